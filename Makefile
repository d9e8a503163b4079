# One task runner: the README and CI call these targets, nothing else.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,dbt]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/jobtrail demo $(if $(PORT),--port $(PORT))

test: install
	VENV=$(VENV) bash scripts/test

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/list_runs.py
	$(BIN)/python benchmarks/step_detail.py
	$(BIN)/python benchmarks/runner.py
	$(BIN)/python benchmarks/console.py
	$(BIN)/python benchmarks/insights.py
	$(BIN)/python benchmarks/rate_limit.py
	$(BIN)/python benchmarks/lineage.py
	$(BIN)/python benchmarks/client.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
