# mlstack developer entry points. `make plan` and `make test` create .venv on first use.
.DEFAULT_GOAL := help
SHELL := /bin/bash

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlstack-synced
ENV ?= dev

$(STAMP): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.5,<1'
	$(UV) sync --frozen --extra dev
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv from uv.lock (exact versions, dev extras included)

# uv compiles the installed packages (pyproject's compile-bytecode); mlstack's own code is an
# editable install, so compile it here: with PYTHONDONTWRITEBYTECODE=1 (this machine, many CI
# images) Python reads .pyc but never writes it. Up-to-date files are skipped, and so are the pack's
# venv and the project template (copier would copy a __pycache__ into every new project).
.PHONY: bytecode
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 -x '/(venv|\.venv|templates)/' mlstack components pipelines policies

.PHONY: plan
plan: bytecode ## Offline plan of the example project (ENV=dev|staging|prod)
	$(BIN)/mlstack plan $(ENV)

.PHONY: validate
validate: bytecode ## Validate the example spec in every environment
	$(BIN)/mlstack validate

.PHONY: test
test: lint bytecode ## Lint, then run the test suite
	$(BIN)/pytest

.PHONY: lint
lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: schema
schema: $(STAMP) ## Regenerate schema/mlstack.schema.json from the spec models
	$(BIN)/mlstack schema --output schema/mlstack.schema.json

.PHONY: bench
bench: bytecode ## Print timing figures of validate and plan
	$(BIN)/python bench/plan_timing.py
	$(BIN)/python bench/plan_speed.py

.PHONY: lock
lock: ## Re-resolve uv.lock after changing dependencies in pyproject.toml
	$(UV) lock

.PHONY: clean
clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
