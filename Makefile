# The two commands of the README: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench-slots clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/activate

locale/nl/LC_MESSAGES/django.mo: locale/nl/LC_MESSAGES/django.po $(BIN)/activate
	$(BIN)/python manage.py compilemessages -v0 --ignore=.venv

## Run web, worker and beat with demo data on the embedded default (SQLite, filesystem broker).
demo: $(BIN)/activate locale/nl/LC_MESSAGES/django.mo
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run --demo

tests/js/node_modules: tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	touch tests/js/node_modules

## Run the tests (DATABASE_URL picks the database; PostgreSQL is what CI uses).
test: $(BIN)/activate tests/js/node_modules locale/nl/LC_MESSAGES/django.mo
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench-slots: $(BIN)/activate
	$(BIN)/python bench/slots.py

clean:
	rm -rf $(VENV) var
