# Every target sets up what it needs on a fresh machine: the virtualenv, the
# Python packages and the Kafka jars are installed on first use.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA := deploy/kafka/kafka.sh

.PHONY: help install kafka-jars kafka-up kafka-down run lint test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv and install the package with its dev tools

kafka-jars: ## resolve Apache Kafka's jars from Maven Central into deploy/kafka/lib
	bash $(KAFKA) fetch

kafka-up: ## start the local broker on 127.0.0.1:9092 (idempotent)
	bash $(KAFKA) start

kafka-down: ## stop the local broker (idempotent)
	bash $(KAFKA) stop

run: install ## local broker + bridge on 127.0.0.1:8080 in the foreground; Ctrl-C stops both
	bash deploy/run-local.sh

lint: install ## ruff (lint and format) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint kafka-jars ## lint, types, then every test, against a real broker started for the run
	$(BIN)/pytest

clean: ## stop the local broker and remove what the targets created
	-bash $(KAFKA) clean
	rm -rf $(VENV) deploy/kafka/lib .mypy_cache .ruff_cache .pytest_cache .hypothesis
