PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint types contracts pytest print-scale bench bench-scale crash load clean venv system-deps

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed-test

serve: $(VENV)/.installed
	$(BIN)/filiera db upgrade
	$(BIN)/filiera demo-data --if-empty
	$(BIN)/filiera serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ledger matching reports service tests bench

types: $(VENV)/.installed-test
	$(BIN)/mypy

contracts: $(VENV)/.installed-test
	$(BIN)/lint-imports

# The browser tests drive Debian's Chromium (/usr/bin/chromium) with Playwright.
# The report tests recompute the workbooks' formulas with LibreOffice Calc (headless),
# print them to PDF, and measure cell texts with the DejaVu fonts it prints with.
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
system-deps:
	@{ command -v soffice >/dev/null 2>&1 && [ -f $(DEJAVU) ] && [ -x /usr/bin/chromium ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends libreoffice-calc-nogui fonts-dejavu-core chromium >/dev/null; \
	  else \
	    echo "make test needs LibreOffice Calc, DejaVu and Chromium: sudo apt-get install" \
	      "libreoffice-calc-nogui fonts-dejavu-core chromium" >&2; \
	    exit 1; \
	  fi; }

pytest: $(VENV)/.installed-test system-deps
	$(BIN)/pytest -q -m "not scale" --durations=40

# Every report of a 3,000-loan network printed by LibreOffice and as PDF (about 4 min:
# the network is built first); kept out of make test to keep it under 30 minutes.
print-scale: $(VENV)/.installed-test system-deps
	$(BIN)/pytest -q -m scale tests/reports

test: lint types contracts pytest

bench: $(VENV)/.installed-test
	for f in bench/*.py; do [ $$f = bench/scale.py ] || $(BIN)/python $$f || exit 1; done

# Speed at MAG scale (issue 19): loads `demo-data --scale $(SCALE)` (minutes), then times
# the API's read endpoints, matching, reports and verify beside a bare Litestar endpoint
# (PostgreSQL too when FILIERA_BENCH_POSTGRES_URL is set). Not part of `make bench`.
SCALE ?= 40
bench-scale: $(VENV)/.installed-test
	$(BIN)/python bench/scale.py --scale $(SCALE)

# The long crash-consistency variant: 20 kill/restart rounds, 16 clients, 2,000 operations
# in the two-process run (PostgreSQL too when FILIERA_TEST_POSTGRES_URL is set).
CRASH_ROUNDS ?= 20
crash: $(VENV)/.installed-test
	FILIERA_CRASH_ROUNDS=$(CRASH_ROUNDS) FILIERA_CRASH_CLIENTS=16 FILIERA_CRASH_OPERATIONS=2000 \
	  $(BIN)/pytest tests/hardening/test_crash_consistency.py -q -s -p no:cacheprovider

# 64 clients mixing repayments, contributions, deliveries and reads on loopback
# (LOAD_SECONDS each; PostgreSQL too when FILIERA_BENCH_POSTGRES_URL is set).
LOAD_SECONDS ?= 60
load: $(VENV)/.installed-test
	$(BIN)/python bench/load.py --seconds $(LOAD_SECONDS)

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache .ruff_cache .hypothesis
