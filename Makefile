# The two quick-start commands live here: `make run` (serve the shipped demo models) and `make test`.
# Both build the virtual environment they need from nothing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench demo-models clean

# `make run` needs the runtime only; the dev tools (pytest, ruff, mypy, playwright, schemathesis: most of .venv's
# size) are added by `make test`.
$(BIN)/.installed-run: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch pinned to a range the local CPU wheel satisfies, so pip never pulls a CUDA build; no bytecode compiling
	# at install time (torch alone is 20 s of it): Python compiles what it imports on first use
	$(BIN)/python -m pip install -q --no-compile "torch>=2.4,<2.14" -e .
	touch $@

$(BIN)/.installed: $(BIN)/.installed-run
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

run: $(BIN)/.installed-run
	$(BIN)/latentct serve --host $(HOST) --port $(PORT)

lint: $(BIN)/.installed
	$(BIN)/ruff check backend tests bench
	$(BIN)/mypy

test: $(BIN)/.installed lint
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_phantom.py
	$(BIN)/python bench/bench_server.py

demo-models: $(BIN)/.installed
	bash scripts/train_demo_models.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
