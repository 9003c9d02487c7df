# The README's commands. Each creates .venv and installs the project on first use
# (and again whenever pyproject.toml changes), so a fresh clone needs only Python 3.11+.
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
# Test workers (pytest-xdist): the suite is CPU-bound, so one per core of this 2-core machine.
PYTEST_WORKERS ?= 2

.PHONY: run test test-durations lint format bench bench-peers clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## start the app on 127.0.0.1:8501 only (.streamlit/config.toml; SQLite in ~/.recsys-workbench unless RECSYS_DATABASE_URL is set)
	$(BIN)/streamlit run app.py

test: $(STAMP)  ## the whole suite; set RECSYS_TEST_POSTGRES_URL to include PostgreSQL
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

test-durations: $(STAMP)  ## rerun the suite and refresh tests/module_seconds.json (longest modules go first)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder --record-module-seconds $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)  ## benchmarks; they rewrite their tables in BENCHMARKS.md
	$(BIN)/python -m bench.run_all

bench-peers: $(STAMP)  ## peer libraries in their own venv, then fit times side by side
	@test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements-peers.txt
	$(BIN)/python -m bench.bench_peers

clean-venv:
	rm -rf $(VENV)
