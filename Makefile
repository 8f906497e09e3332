# The two contract commands: `make demo` (main job end to end) and `make test` (every test).
# Both run `make setup` first when the virtual environment is missing or out of date.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
PYTEST_WORKERS ?= 2

.PHONY: setup chromium demo test test-fast lint pytest bench dbt-build docs clean help attack stress

help:
	@echo "make setup   create .venv and install the pinned dependencies and the package"
	@echo "make demo    synthetic data -> ingest -> dbt build -> publish -> reports (what exists)"
	@echo "make test    linters, pytest (incl. dbt build + tests on generated data)"
	@echo "make test-fast  ruff and the quick tests (not slow, not browser): the loop while editing"
	@echo "make bench   benchmarks, results in reports/bench/"
	@echo "make docs    the dbt docs (models, columns, exposures) as one page that opens offline: build/docs/dbt/index.html"
	@echo "make stress  the kill and concurrency tests 20 times (STRESS_RUNS=N)"
	@echo "make attack  the outside attacker on the published file of make demo (PUBLISHED=... for another)"
	@echo "make clean   remove generated data, warehouse, published file and reports"

setup: $(STAMP) chromium

# Headless Chromium from the distribution for the reports' PDFs and browser test (installed when root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (apt) for report PDFs"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: chromium is missing; run 'apt-get install chromium' as root (reports skip PDFs without it)"; fi; }

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "python3.11 not found: install Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: setup
	$(BIN)/brukerplan demo

test: setup lint pytest

# The quick loop while editing: ruff and every test not marked slow or browser (make test runs them all)
test-fast: setup
	$(BIN)/ruff check src tests
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow and not browser"

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/sqlfluff lint models tests/dbt analyses --processes 2

pytest: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The outside attacker (tests/publish/attack.py) on the published file of `make demo`: exit 1 if it recovers or
# pins down any withheld cell (the demo-sized check of docs/publishing.md)
attack: setup
	PYTHONPATH=. $(BIN)/python -m tests.publish.attack $(or $(PUBLISHED),published/brukerplan.duckdb)

# The kill and concurrency tests 20 times in a row (STRESS_RUNS=N for another count): a flaky test fails here
STRESS_RUNS ?= 20
stress: setup
	@for i in $$(seq 1 $(STRESS_RUNS)); do echo "stress run $$i/$(STRESS_RUNS)"; \
	  $(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider tests/ingest/test_idempotency_crash_concurrency.py \
	    tests/publish/test_concurrency.py tests/warehouse/test_swap_mechanics.py || { echo "stress: run $$i failed"; exit 1; }; done; \
	echo "stress: return kill test, each kill point $(STRESS_RUNS) times on one chain"; \
	BRUKERPLAN_KILL_REPEATS=$(STRESS_RUNS) $(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider \
	  tests/returns/test_kill.py || { echo "stress: the return kill test failed"; exit 1; }; \
	echo "stress: $(STRESS_RUNS)/$(STRESS_RUNS) runs passed"

# BENCH_ARGS, e.g. make bench BENCH_ARGS="--scales 0.05" for a quick run
bench: setup
	$(BIN)/brukerplan bench $(BENCH_ARGS)

dbt-build: setup
	$(BIN)/dbt build --profiles-dir .

# The dbt docs as one self-contained page that opens from disk: $(DOCS_DIR)/dbt/index.html. The catalog comes from
# a throwaway warehouse under $(DOCS_DIR)/work (seeds and models on an empty landing zone), never warehouse/.
DOCS_DIR ?= build/docs
docs: setup
	$(BIN)/python -m brukerplan.dbt_docs --out $(DOCS_DIR)

clean:
	rm -rf returns data/landing data/synth warehouse/*.duckdb* published/*.duckdb* published/*.parquet published/*_parquet published/.*_parquet* reports/* target logs build/dbt-parse
	@touch reports/.gitkeep
