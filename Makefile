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

# The Node.js clients of the interop tests (issue 13: tests/interop, tests/e2e/test_interop_*.py),
# from tests/interop/package-lock.json. Without npm they are skipped, except under CI.
NODE_STAMP := tests/interop/node_modules/.installed-stamp

$(NODE_STAMP): tests/interop/package.json tests/interop/package-lock.json
	@if command -v npm >/dev/null; then \
	  echo "npm ci --prefix tests/interop"; \
	  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ "$$CI" = true ]; then \
	  echo "npm not found: CI must install nodejs and npm (.ci/run)" >&2; exit 1; \
	else \
	  echo "npm not found: the JavaScript interop tests will be skipped (system dependency: nodejs, npm)"; \
	fi

run: $(STAMP)
	$(BIN)/trent serve --dev

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(NODE_STAMP)
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/run.py --all

docs: $(STAMP)
	$(BIN)/python -m trent.api.compat > docs/compatibility.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache tests/interop/node_modules
