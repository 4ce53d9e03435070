#!/usr/bin/env bash
# Run the suite; "no tests collected" (pytest's exit code 5) is a failure too.
set -uo pipefail
python="$1"; shift
"$python" -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure." >&2
  exit 1
fi
exit "$status"
