#!/usr/bin/env bash
# Install the Debian packages the tests need, only when missing.
# Usage: install-system-packages.sh PACKAGE...   (the command of each is checked)
set -euo pipefail
# nginx by its path: /usr/sbin is not on a normal user's PATH.
declare -A command_of=([redis-server]=redis-server [chromium]=chromium [postgresql]=pg_ctlcluster [nginx]=/usr/sbin/nginx [mariadb-server]=/usr/sbin/mariadbd)
missing=()
for package in "$@"; do
  command -v "${command_of[$package]:-$package}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Missing system packages: ${missing[*]}. Install them (apt-get install ${missing[*]}) and run again." >&2
  exit 1
fi
echo "Installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
