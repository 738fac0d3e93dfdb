# Two entry points that work on a fresh machine: `make run` (the main job) and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint generate serve docs bench setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: check the contract, show its operations, then serve both providers.
run: $(STAMP)
	$(BIN)/numspec lint
	$(BIN)/numspec serve

test: $(STAMP)
	bash scripts/ensure-chromium
	$(BIN)/numspec lint --strict --quiet
	$(BIN)/numspec generate --check
	$(BIN)/ruff check generator emulator tests generated $(wildcard bench)
	$(BIN)/mypy --strict generated
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/numspec lint

generate: $(STAMP)
	$(BIN)/numspec generate

bench: $(STAMP)
	$(BIN)/python -m bench
