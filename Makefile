PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint types contracts pytest bench clean venv system-deps

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

# The report tests recompute the workbooks' formulas with LibreOffice Calc (headless),
# print them to PDF, and measure cell texts with the DejaVu fonts it prints with.
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
system-deps:
	@{ command -v soffice >/dev/null 2>&1 && [ -f $(DEJAVU) ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends libreoffice-calc-nogui fonts-dejavu-core >/dev/null; \
	  else \
	    echo "make test needs LibreOffice Calc and DejaVu: sudo apt-get install" \
	      "libreoffice-calc-nogui fonts-dejavu-core" >&2; \
	    exit 1; \
	  fi; }

pytest: $(VENV)/.installed-test system-deps
	$(BIN)/pytest -q

test: lint types contracts pytest

bench: $(VENV)/.installed-test
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache .ruff_cache .hypothesis
