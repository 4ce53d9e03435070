# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEV := DEBUG=1

.PHONY: run test smoke lint fmt latency clean

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(VENV)/.runtime  ## serve http://127.0.0.1:8000 with SQLite and the in-memory layer
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py seed_demo
	$(DEV) $(PY) manage.py purge_revoked_tokens
	$(DEV) $(PY) manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.dev  ## install what the tests need, then run them all
	scripts/install-system-packages.sh redis-server chromium
	scripts/run-tests.sh $(PY) $(ARGS)

smoke: $(VENV)/.dev  ## `make run` in a fresh clone serves the login page; the demo admin signs in
	$(PY) scripts/smoke_make_run.py

lint: $(VENV)/.dev
	$(PY) -m ruff format --check . && $(PY) -m ruff check .

fmt: $(VENV)/.dev
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

latency: $(VENV)/.dev  ## send-to-delivery time, median over 1,000 messages, both layers
	scripts/install-system-packages.sh redis-server
	$(PY) scripts/measure_latency.py

clean:
	rm -rf $(VENV) var
