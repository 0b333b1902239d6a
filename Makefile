# Dalgu: the two entry points are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install serve bench conformance clean services

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# a fresh city each time, as the README's tour expects (`$(BIN)/dalgu demo` keeps var/demo.db);
# --fresh deletes it only once the ports are known free (not under a demo still running)
demo: install
	$(BIN)/dalgu demo --fresh

serve: install
	$(BIN)/dalgu serve

services:
	bash scripts/services.sh

lint: install
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

typecheck: install
	$(BIN)/mypy

# three xdist workers (the tests wait more than they compute: two left the cores idle half the
# time); `--dist loadfile`/`loadscope`/`loadgroup` silently skip the
# schemathesis-generated tests: use `--dist load`
unit: install
	$(BIN)/pytest -q -n 3 --dist load --durations=20

test: install services lint typecheck unit

bench: install services
	$(BIN)/python bench/run.py

conformance: install
	bash scripts/conformance.sh

lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --quiet

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
