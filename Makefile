# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEV := DEBUG=1
N ?= 2
CLUSTER_PORT ?= 8080
CLUSTER_PACKAGES := redis-server postgresql nginx

.PHONY: run demo-accounts test test-postgres smoke lint fmt latency clean cluster cluster-stop test-cluster

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(VENV)/.runtime  ## serve http://127.0.0.1:8000 (or PORT=...) with SQLite and the in-memory layer, and the email worker
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py seed_demo
	$(DEV) $(PY) manage.py purge_revoked_tokens
	@# The email worker runs beside the server and stops with it (emails go
	@# to this console unless EMAIL_URL is set).
	$(DEV) $(PY) manage.py email_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEV) $(PY) manage.py runserver $(HOST):$(PORT)

demo-accounts: $(VENV)/.runtime  ## new passwords for the demo accounts, printed (the first run's are gone)
	@$(DEV) $(PY) manage.py migrate --noinput -v 0
	$(DEV) $(PY) manage.py seed_demo --reset-passwords

# `make test` runs the suite on SQLite, then the tests marked `postgres` again on a
# private PostgreSQL server. ARGS (a path, -k, -x ...) narrows the first run only:
# ARGS selecting none of the marked tests would fail the second run ("no tests
# collected"), and that run stays a whole check of PostgreSQL, a fraction of the
# suite. `make test-postgres ARGS=...` narrows it instead. -p no:cacheprovider:
# --lf/--ff keep remembering the SQLite run.
POSTGRES_TESTS = $(PY) scripts/with_postgres.py -- scripts/run-tests.sh $(PY) -m postgres -p no:cacheprovider

test: $(VENV)/.dev  ## install what the tests need, then run them all (PostgreSQL-marked ones twice)
	scripts/install-system-packages.sh redis-server chromium postgresql mariadb-server npm
	scripts/run-tests.sh $(PY) $(ARGS)
	$(POSTGRES_TESTS)

test-postgres: $(VENV)/.dev  ## only the tests marked `postgres`, on a private PostgreSQL server
	scripts/install-system-packages.sh postgresql mariadb-server npm
	$(POSTGRES_TESTS) $(ARGS)

smoke: $(VENV)/.dev  ## `make run` in a fresh clone serves the login page; the demo admin signs in
	$(PY) scripts/smoke_make_run.py

lint: $(VENV)/.dev
	$(PY) -m ruff format --check . && $(PY) -m ruff check .

fmt: $(VENV)/.dev
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

latency: $(VENV)/.dev  ## send-to-delivery time, median over 1,000 messages, both layers
	scripts/install-system-packages.sh redis-server
	$(PY) scripts/measure_latency.py

cluster: $(VENV)/.runtime  ## Redis, PostgreSQL, N daphne processes (N=2) and nginx on http://127.0.0.1:$(CLUSTER_PORT)
	scripts/install-system-packages.sh $(CLUSTER_PACKAGES)
	$(PY) scripts/cluster.py start --processes $(N) --port $(CLUSTER_PORT)

cluster-stop:  ## stop exactly what `make cluster` started (by its PID files)
	$(PY) scripts/cluster.py stop

test-cluster: $(VENV)/.dev  ## two daphnes + Redis + PostgreSQL + nginx: cross-process chat and faults
	scripts/install-system-packages.sh $(CLUSTER_PACKAGES)
	scripts/run-tests.sh $(PY) -m cluster tests/cluster $(ARGS)

.PHONY: bench bench-import
comma := ,
$(VENV)/.bench: $(VENV)/.dev bench/requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -r bench/requirements.txt
	@touch $@

# make bench [COMPARE=original] [SCENARIOS=handshake,fanout,capacity,idle,history,inbox]
#            [SERVER=daphne|uvicorn|daphne,uvicorn] [DATABASE=sqlite|postgres|sqlite,postgres]
#            [BENCH_ARGS="--quick ..."]
# DATABASE=postgres (history and inbox only) starts a private PostgreSQL server.
bench: $(VENV)/.bench  ## speed and memory on one core; COMPARE=original runs the Node original too
	$(if $(filter postgres,$(subst $(comma), ,$(DATABASE))),scripts/install-system-packages.sh postgresql)
	$(PY) -m bench $(if $(COMPARE),--compare $(COMPARE)) $(if $(SCENARIOS),--scenarios $(SCENARIOS)) $(if $(SERVER),--server $(SERVER)) $(if $(DATABASE),--database $(DATABASE)) $(BENCH_ARGS)

# make bench-import [DATABASE=sqlite|postgres|sqlite,postgres] [BENCH_ARGS="--accounts 1000 --messages 10000"]
# A private MariaDB server holds the original's tables (filled first, not timed).
bench-import: $(VENV)/.bench  ## manage.py import_original: 100,000 accounts, 1,000,000 messages from MariaDB, < 5 min each
	scripts/install-system-packages.sh mariadb-server postgresql
	$(PY) -m bench.import_original $(if $(DATABASE),--database $(DATABASE)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
