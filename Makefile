# README's commands: `make study` (set up, then run the batch-size study) and `make test` (set up, then run the tests).
# Both create .venv with python3 -m venv and install fastnn there; nothing is installed system-wide.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The demo and the real-data tests find the IDX files through FASTNN_DATA (make demo FASTNN_DATA=DIR ARGS="--epochs 3").
export FASTNN_DATA

.PHONY: setup study demo test bench bench-report clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

# The main job: the batch-size study into ./study (resumes an interrupted one; `make study ARGS=--quick` for a try).
study: setup
	$(BIN)/fastnn study --out study --resume $(ARGS)

demo: setup
	$(BIN)/fastnn train $(ARGS)

# One pytest-xdist worker per core, at most 4: most of the suite's time is Numba compiling kernels, one
# process a core; each worker compiles what the shared cache does not yet hold, so more workers repeat more of it.
test: setup
	$(BIN)/python -m pytest tests -q -n auto --maxprocesses 4

bench: setup
	$(BIN)/python -m pytest bench --benchmark-only --benchmark-group-by=group --benchmark-columns=min,median,mean,rounds

bench-report: setup
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
