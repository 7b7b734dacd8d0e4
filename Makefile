# The two commands of the README. Both run the (idempotent) set-up first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench

setup:
	bash scripts/setup.sh

demo: setup
	$(BIN)/rnn-demos demo

test: setup
	$(BIN)/python -m pytest -q
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q tests/core

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/cells.py
