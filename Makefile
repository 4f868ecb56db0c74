# The quick start is `make demo` and `make test`; both create .venv when needed.
# `make demo ELEMENT=mailchimp` shows Mailchimp instead of Act-On.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# the suite mostly waits on servers and subprocesses: four workers keep two cores busy
TEST_WORKERS ?= 4
ELEMENT ?= acton

.PHONY: demo test soak check services ui-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m headwater.demo --element $(ELEMENT)

services:
	bash scripts/services.sh

ui-deps:
	bash scripts/ui-test-deps.sh

test: $(STAMP) services ui-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

soak: $(STAMP) services
	HEADWATER_SOAK=1 $(BIN)/python -m pytest -q -m soak $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) headwater-data .pytest_cache .mypy_cache .ruff_cache .hypothesis
