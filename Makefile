# Two commands for a new machine with Python >= 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install lint format clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Embedded set-up: SQLite under ./var, Celery tasks in-process, DEBUG on, nothing else needed.
# The set-up steps log only warnings (no per-task "succeeded" lines, no axes banner), so the
# logins and the address, printed by serve_local once the server listens, come last.
run: export DEBUG ?= 1
run: $(STAMP)
	mkdir -p var
	LOG_LEVEL=WARNING $(BIN)/python manage.py migrate --noinput -v 0
	LOG_LEVEL=WARNING $(BIN)/python manage.py create_signing_key --if-missing -v 0
	LOG_LEVEL=WARNING $(BIN)/python manage.py setup_admin --reviewer reviewer -v 0
	LOG_LEVEL=WARNING $(BIN)/python manage.py load_demo --reviewer reviewer
	$(BIN)/python manage.py serve_local 127.0.0.1:$(PORT) --login admin --login reviewer

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/render.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var
