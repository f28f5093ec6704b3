#!/usr/bin/env bash
# The built wheel in a bare venv answers a question: build it, install it with its runtime
# dependencies only (no torch, no model: the offline reader and embedder), then index the
# sample corpus, ask, and serve (readiness, /v1/ask, HEAD /) on a free loopback port.
# CI runs it after the test suite (.ci/run); it writes only under a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CORPUS=${CORPUS:-../shared/corpus}
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" . 2>/dev/null \
  || "$PY" -m pip wheel -q --no-deps -w "$WORK/dist" .
WHEEL=$(ls "$WORK"/dist/rag_zh-*.whl)
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --upgrade pip
"$WORK/venv/bin/python" -m pip install -q "$WHEEL"
cd "$WORK"  # away from the checkout: only the installed package can be imported
RAG="$WORK/venv/bin/rag"
"$RAG" --version
"$WORK/venv/bin/python" - <<'PY'
import importlib.util, pathlib
site = pathlib.Path(importlib.util.find_spec("rag").origin).parents[1]
for name in ("rag", "index", "api", "eval"):
    assert pathlib.Path(importlib.util.find_spec(name).origin).parents[1] == site, name
for data in ("rag/reader/offline/weights.json", "rag/reader/neural/calibration.json",
             "rag/reader/neural/adapter/adapter_model.safetensors", "api/static/index.html",
             "api/static/favicon.svg", "eval/questions.jsonl"):
    assert (site / data).is_file(), f"package data missing from the wheel: {data}"
print("wheel: package data present")
PY
"$RAG" index build "$OLDPWD/$CORPUS" --index-dir "$WORK/index" --embedder offline
ANSWER=$("$RAG" ask "天津港2023年的集装箱航线有多少条？" --index-dir "$WORK/index" --reader offline --json)
echo "$ANSWER" | "$WORK/venv/bin/python" -c 'import json,sys; a=json.load(sys.stdin); assert a["answer"]=="145条", a["answer"]; print("wheel: rag ask:", a["answer"])'
PORT=$("$WORK/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$RAG" serve --index-dir "$WORK/index" --reader offline --port "$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/readyz" > /dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.log"; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/readyz"; echo
curl -fsS -X POST "http://127.0.0.1:$PORT/v1/ask" -H 'Content-Type: application/json' \
  -d '{"question": "天津港2023年的集装箱航线有多少条？"}' \
  | "$WORK/venv/bin/python" -c 'import json,sys; a=json.load(sys.stdin); assert a["answer"]=="145条"; print("wheel: rag serve /v1/ask:", a["answer"])'
curl -fsS -I "http://127.0.0.1:$PORT/" | head -1
echo "wheel: ok ($(basename "$WHEEL"))"
