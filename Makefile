# Two commands do all the set-up on a fresh machine (Python >= 3.11 and make):
#   make test   - create .venv if missing, install .[dev], run mypy and pytest
#   make demo   - install, then run the simulator-backed demo end to end
#   make bench  - benchmarks (BENCH_ARGS=--quick for a short run); results in benchmarks/README.md
#   make bench-scale - the scale-out benchmark: 1, 2 and 4 workers on PostgreSQL (a few minutes)
#   make soak   - the long reliability variants (docs/RELIABILITY.md)
#   make test-browser - install Debian's chromium and Playwright, render the HTML report headless,
#                 check its charts are drawn and save screenshots (the paths are printed)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test test-browser demo bench bench-scale soak typecheck clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "loanledger needs Python >= 3.11 (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cli]'
	@touch $(STAMP)

typecheck: $(STAMP)
	$(BIN)/mypy loanledger

test: typecheck
	$(BIN)/python -m pytest -q

SCREENSHOTS ?= $(CURDIR)/build

# Debian's chromium (no browser download: Playwright drives /usr/bin/chromium); apt-get needs root
test-browser: $(STAMP)
	@if ! test -x /usr/bin/chromium; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver; fi; fi
	$(BIN)/python -m pip install --quiet -e '.[browser]'
	LOANLEDGER_SCREENSHOTS=$(SCREENSHOTS) $(BIN)/python -m pytest -q -s --browser -m browser tests/exports/test_browser.py
	@echo "report screenshots: $(SCREENSHOTS)/report-demo.png (the demo ledger), $(SCREENSHOTS)/report-books.png (a generated three-book history)"

soak: $(STAMP)
	$(BIN)/python -m pytest -q -m soak --soak

demo: $(STAMP)
	$(BIN)/python -m loanledger demo

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-scale: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py --only scale $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .hypothesis demo-ledger.db*
