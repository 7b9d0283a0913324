# The two commands: `make run` and `make test`. Both bootstrap what they need from a machine
# that has only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint typecheck bench clean reset-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

.env:
	$(BIN)/python scripts/write_env.py

data/broker/processed:
	mkdir -p data/broker/processed

run: $(STAMP) .env data/broker/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

test: $(STAMP)
	mkdir -p data
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

bench: $(STAMP)
	BENCH_LATENCY_MS=$${BENCH_LATENCY_MS:-100} $(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf data/broker data/celerybeat-schedule*

# make run keeps the demo's database and the sandbox's state across restarts; this forgets both
# (the next make run starts from fresh demo data, with the .env password again).
reset-demo:
	rm -rf data/sandbox data/tandem.sqlite3 data/tandem.sqlite3-wal data/tandem.sqlite3-shm data/broker data/celerybeat-schedule*
