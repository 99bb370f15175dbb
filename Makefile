# Two commands do all the set-up on a fresh machine (Python >= 3.11 and make):
#   make test   - create .venv if missing, install .[dev], run mypy and pytest
#   make demo   - install, then run the simulator-backed demo end to end
#   make bench  - benchmarks (BENCH_ARGS=--quick for a short run); results in benchmarks/README.md
#   make bench-scale - the scale-out benchmark: 1, 2 and 4 workers on PostgreSQL (a few minutes)
#   make soak   - the long reliability variants (docs/RELIABILITY.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo bench bench-scale soak typecheck clean

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
