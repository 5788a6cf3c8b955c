# `make run` starts a complete server; `make test` installs what tests need and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The widget (client/): npm packages from the lock file, then the build into client/dist/ (git-ignored).
NODE_STAMP := node_modules/.installed
WIDGET := client/dist/widget.js
WIDGET_SOURCES := $(shell find client/src -name '*.js' 2>/dev/null) client/build.mjs
# The agent console (agent_console/): built into agent_console/dist/ (git-ignored) by the same npm run build.
CONSOLE := agent_console/dist/console.js
CONSOLE_SOURCES := $(shell find agent_console/src -name '*.js' 2>/dev/null) agent_console/build.mjs

.PHONY: run test install build-deps system-deps lint typecheck pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(WIDGET) $(CONSOLE) &: $(NODE_STAMP) $(WIDGET_SOURCES) $(CONSOLE_SOURCES)
	npm run build

install: $(STAMP) $(WIDGET) $(CONSOLE)

run: build-deps install
	$(BIN)/chatserver serve

build-deps:
	bash scripts/install-system-deps.sh build

system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# One pytest process per CPU (pytest-xdist); a single test file runs faster without: pytest tests/FILE.
pytest: install
	$(BIN)/pytest -q -n auto

test: system-deps install lint typecheck pytest

clean:
	rm -rf $(VENV) node_modules client/dist agent_console/dist test-artifacts .pytest_cache .mypy_cache .ruff_cache
