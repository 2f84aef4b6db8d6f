# One command per task. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format openapi openapi-check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## build the demo legacy database and serve it on 127.0.0.1:8080
	$(BIN)/legacy-wrapper demo

test: $(STAMP) lint openapi-check  ## every test, on SQLite, PostgreSQL and MariaDB
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: $(STAMP)  ## regenerate the committed specs in openapi/
	$(BIN)/legacy-wrapper openapi --demo --out openapi

openapi-check: $(STAMP)  ## fail when openapi/ differs from what the code generates
	$(BIN)/legacy-wrapper openapi --demo --check --out openapi

bench: $(STAMP)  ## read-path benchmark (by hand; see bench/README.md)
	$(BIN)/python -m bench.run --backend sqlite

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
