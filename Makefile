# Trent: `make run` starts a dev server, `make test` runs every check. Both install what they need.
# constraints.txt pins every package version, so a fresh clone tests what was tested here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck bench docs clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/trent serve --dev

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/run.py --all

docs: $(STAMP)
	$(BIN)/python -m trent.api.compat > docs/compatibility.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
