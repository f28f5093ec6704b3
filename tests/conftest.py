from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch):
    """No test reaches a model hub, whatever a test before it set."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the sample corpus is expected at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def sample_corpus(corpus_dir):
    from rag.ingest.corpus import Corpus

    return Corpus.from_folder(corpus_dir)


@pytest.fixture(scope="session")
def offline_index(tmp_path_factory, corpus_dir) -> Path:
    """One offline index of the sample corpus, shared by the tests that only read it."""
    from rag.indexing import build_index

    folder = tmp_path_factory.mktemp("offline-index")
    build_index(corpus_dir, folder, embedder="offline")
    return folder


@pytest.fixture(scope="session")
def installed_model() -> Path:
    """The real multilingual-e5-small folder that `rag models install` (set-up) wrote."""
    from index.local_models import E5_MODEL_NAME, resolve_local_model

    path = resolve_local_model(E5_MODEL_NAME)
    if path is None:
        if os.environ.get("RAG_REQUIRE_MODEL"):
            pytest.fail("multilingual-e5-small is not installed: run `rag models install`")
        pytest.skip("multilingual-e5-small is not installed (`rag models install`)")
    return Path(path)


@pytest.fixture(scope="session")
def model_index(tmp_path_factory, corpus_dir, installed_model) -> Path:
    """An index of the sample corpus built by `auto`, which takes the installed model."""
    from rag.indexing import build_index

    folder = tmp_path_factory.mktemp("model-index")
    build_index(corpus_dir, folder, embedder="auto")
    return folder


@pytest.fixture()
def empty_caches(tmp_path, monkeypatch) -> Path:
    """Model caches that hold nothing: a lookup must find only what the test puts there."""
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "st_home"))
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "models"))  # nothing installed
    return home
