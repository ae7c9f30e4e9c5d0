# Developer entry points. Needs only Python 3.11 and make: uv is installed with pip when missing,
# the virtualenv comes from the committed uv.lock, and `make run` starts PostgreSQL and Temporal
# from wheels in that virtualenv, with honcho running the processes (see devtools/devstack.py; the
# devtools/ package is development-only and is not copied into the Docker image).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# API_PORT, TEMPORAL_PORT and TEMPORAL_UI_PORT reach devtools/devstack.py through the environment (from
# the shell or the make command line); API_PORT is also needed here, by `make api`.
API_PORT ?= 8000
# uv from PATH, else the copy pip installs: `python -m uv` works wherever pip put the script.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
DEVSTACK := $(PY) -m devtools.devstack

.PHONY: help install run test browser fuzz lint migrate worker api token clean-data histories bench bench-quick

help:
	@echo "make run         start PostgreSQL, Temporal, worker and API locally (Ctrl-C stops all;"
	@echo "                 if any one of them dies, all stop: make run again, data is kept)"
	@echo "make test        lint, types, then the test suite (starts its own servers; installs chromium)"
	@echo "make browser     install Debian's chromium for the browser tests (apt-get) when missing"
	@echo "make fuzz        schemathesis, longer (FUZZ_EXAMPLES=300 per operation and mode; make test runs 25)"
	@echo "make lint        ruff check, ruff format --check, mypy (make test runs it first)"
	@echo "make bench       performance figures vs floors in one run (bench/results.md; bench-quick: small)"
	@echo "make install     create/update .venv from uv.lock"
	@echo "make migrate     apply database migrations"
	@echo "make worker      run only the Temporal worker (needs Temporal: make run, or TEMPORAL_ADDRESS)"
	@echo "make api         run only the API on 127.0.0.1:\$$API_PORT (default 8000)"
	@echo "make token       print a demo coach token (TOKEN=\$$(make -s token))"
	@echo "make clean-data  delete .data/ (local database, Temporal state, dev secrets)"
	@echo "DATABASE_URL / TEMPORAL_ADDRESS point at existing servers instead of local ones."
	@echo "API_PORT / TEMPORAL_PORT / TEMPORAL_UI_PORT move the local ports (8000, 7233 and +10 +11, 8233)."

# `uv sync` is exact: it also removes packages that are not in the lock (and keeps the dev group).
install:
	@if ! $(UV) --version >/dev/null 2>&1; then \
		echo "uv not found: installing it with pip"; \
		$(PYTHON) -m pip install --quiet uv \
			|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv; \
	fi
	$(UV) sync --frozen

run: install
	$(DEVSTACK)

# Lint and types first: a red lint is a red `make test`, and so a red CI.
test: lint browser
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Re-record tests/histories/ (replayed by tests/test_replay.py): only when a workflow change is meant
# to produce new histories. See docs/reliability.md, "Changing workflow code".
histories: install
	$(VENV)/bin/pytest -q tests/record_histories.py --record-histories

# The browser tests drive Debian's chromium through Playwright (which downloads no browser itself).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "chromium not found: installing Debian's chromium (and an emoji font, for the pages' icons)"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji; \
	}

# The schemathesis run of `make test` with more examples (tests/fuzz.py; FUZZ_SEED changes the seed).
FUZZ_EXAMPLES ?= 300
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -q -s tests/test_fuzz.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# The single-component targets get the same environment as `make run` (embedded PostgreSQL joined
# or started when DATABASE_URL is unset, the development JWT secret, APP_ENV=development).
migrate: install
	$(DEVSTACK) exec -- $(PY) -m coach_sessions migrate

worker: install
	$(DEVSTACK) exec -- $(PY) worker.py

api: install
	$(DEVSTACK) exec -- $(PY) -m api.server --host 127.0.0.1 --port $(API_PORT)

token: install
	@$(DEVSTACK) exec -- $(PY) -m devtools mint-token --demo-coach

# Refuses while the embedded PostgreSQL is running from .data/pg (stop `make run` first).
clean-data:
	@pid_file=.data/pg/postmaster.pid; \
	if [ -f "$$pid_file" ] && kill -0 "$$(head -n 1 "$$pid_file")" 2>/dev/null; then \
		echo "PostgreSQL is running from .data/pg: stop \`make run\` first"; exit 1; \
	fi
	rm -rf .data

# Performance figures against floors measured in the same run (bench/, never part of `make test`):
# real processes on free loopback ports; writes bench/results.md + .json (quick: bench/results-quick.*).
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: install
	$(PY) -m bench.run --quick $(BENCH_ARGS)
