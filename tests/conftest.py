from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the sample corpus is expected at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def sample_corpus(corpus_dir):
    from rag.corpus import Corpus

    return Corpus.from_folder(corpus_dir)
