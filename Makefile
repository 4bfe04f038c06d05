# payments_core: `make run` starts the back-office, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test lint format venv migrate seed sandbox bench-api bench-reconcile clean events scenario

$(VENV)/.installed: requirements/base.txt requirements/local.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/local.txt
	touch $@

venv: $(VENV)/.installed

## Run the back-office: web on :8000, Celery worker and beat, provider sandbox on :8100.
## Without DATABASE_URL / CELERY_BROKER_URL it uses SQLite and a file broker under var/.
run: venv
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@# web, worker and beat share their metrics there (Procfile.dev); counts start again at zero
	rm -rf var/prometheus && mkdir -p var/prometheus
	$(BIN)/honcho --procfile Procfile.dev start

## Lint, then the tests on PostgreSQL, Redis and RabbitMQ (DATABASE_URL / REDIS_URL, defaults to
## the local servers). The tests include the real server (gunicorn) and schemathesis against it.
test: lint
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DATABASE_URL=sqlite:///:memory: $(PY) manage.py makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Load benchmark: gunicorn + PostgreSQL + sandbox, 32 clients through the payment lifecycle.
bench-api: venv
	$(PY) bench/api_bench.py

## Reconciliation at scale: a 1,000,000-line settlement report against 1,000,000 captured payments.
bench-reconcile: venv
	$(PY) bench/reconcile_bench.py

sandbox: venv
	$(PY) -m sandbox --host 127.0.0.1 --port 8100 --state var/sandbox.sqlite3

## Print the events the relay publishes (beside `make run`; TYPES='payment.*' to filter).
events: venv
	$(PY) manage.py consume_events --types '$(or $(TYPES),#)'

## End-to-end scenario: SCENARIO_PAYMENTS (600) payments through the three sandboxes with faults,
## async approvals, timeouts, late/duplicated/reordered webhooks and disputes (scripts/scenario.py).
scenario: venv
	$(PY) scripts/scenario.py

clean:
	rm -rf var $(VENV)
