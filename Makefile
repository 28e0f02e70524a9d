# Vigil: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit lint services-up services-down services-status bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## The embedded demo: a simulated virtual ward through the real pipeline, no servers needed.
demo: $(STAMP)
	$(BIN)/vigil demo

## The whole test suite: lint, types, start local Kafka/InfluxDB/Mosquitto, pytest, stop them.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	bash scripts/services.sh up
	status=0; $(BIN)/python -m pytest || status=$$?; bash scripts/services.sh down; exit $$status

## Unit tests only (no services).
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

services-up:
	bash scripts/services.sh up
services-down:
	bash scripts/services.sh down
services-status:
	bash scripts/services.sh status

clean:
	rm -rf $(VENV) .services .pytest_cache .mypy_cache .ruff_cache
