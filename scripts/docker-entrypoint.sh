#!/usr/bin/env bash
# The container's entry: `serve` (the default) indexes the mounted corpus (an update: only
# new or changed files are read) and serves it; anything else is a `rag` command
# (`docker run IMAGE ask "…"`, `docker run IMAGE index status`).
# Folders and port come from the environment: RAG_CORPUS_DIR (default /data/corpus),
# RAG_INDEX_DIR (/data/index), RAG_MODELS_DIR (set by the image), PORT (8000), HOST (0.0.0.0).
set -euo pipefail
CORPUS=${RAG_CORPUS_DIR:-/data/corpus}
INDEX=${RAG_INDEX_DIR:-/data/index}
RAG=${RAG_BIN:-rag}

if [ "${1:-serve}" != "serve" ]; then
  exec "$RAG" "$@"
fi
shift || true
if [ -z "$(find "$CORPUS" -type f -print -quit 2>/dev/null)" ]; then
  if [ ! -f "$INDEX/CURRENT" ]; then
    echo "entrypoint: no documents in $CORPUS and no index in $INDEX:" \
         "mount a folder of documents there (docker run -v /path/to/docs:$CORPUS …)" >&2
    exit 2
  fi
  echo "entrypoint: no documents in $CORPUS: serving the index in $INDEX as it is" >&2
else
  "$RAG" index build "$CORPUS" --index-dir "$INDEX"
fi
exec "$RAG" serve --index-dir "$INDEX" --corpus-dir "$CORPUS" \
  --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" "$@"
