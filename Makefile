# Everyday commands. `make run` and `make test` set everything up first.
CORPUS ?= ../shared/corpus
VENV := .venv/bin

.PHONY: setup run test lint format articles clean

setup:
	./scripts/setup.sh

run: setup
	$(VENV)/rag articles $(CORPUS)

test: setup
	$(VENV)/python -m pytest -q

lint:
	$(VENV)/ruff check rag index api eval tests
	$(VENV)/ruff format --check rag index api eval tests

format:
	$(VENV)/ruff format rag index api eval tests
	$(VENV)/ruff check --fix rag index api eval tests

articles:
	$(VENV)/rag articles $(CORPUS)

clean:
	rm -rf .venv .pytest_cache build *.egg-info
