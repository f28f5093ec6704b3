"""The index records TEXT_PIPELINE_VERSION; an index built with another value is rebuilt.

So the version must change whenever ingest's output changes. This test pins what ingest
makes of the sample corpus (every article's fields, text and offset map, every chunk) to a
digest recorded for the current version: a change of output fails here until the version
is bumped and the new digest recorded beside it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from rag.ingest import TEXT_PIPELINE_VERSION

# version -> sha256 of the sample corpus's articles and chunks under that version
DIGESTS = {
    "985b76108b3d4788": "7551ac79bf6ce66915f2ac413eccfe1363061bcae8e228359cd10f1ec526486f",
    # web pages: main text only (rag/ingest/web.py); the sample corpus has no page
    "cf08f1b92da1f61d": "7551ac79bf6ce66915f2ac413eccfe1363061bcae8e228359cd10f1ec526486f",
}


def corpus_digest(corpus) -> str:
    h = hashlib.sha256()
    for a in corpus.articles:
        row = asdict(a) | {"offsets": list(a.offsets)}
        h.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
    for c in corpus.chunks:
        h.update(json.dumps(asdict(c), ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()


def test_ingest_output_is_that_of_its_declared_version(sample_corpus):
    assert TEXT_PIPELINE_VERSION in DIGESTS, "record the digest of the new version"
    assert corpus_digest(sample_corpus) == DIGESTS[TEXT_PIPELINE_VERSION], (
        "ingest's output changed: bump TEXT_PIPELINE_VERSION (rag/ingest/__init__.py) "
        "and record the new digest here"
    )


def test_the_digest_sees_a_one_character_change(sample_corpus):
    from dataclasses import replace

    first = sample_corpus.articles[0]
    changed = replace(sample_corpus, articles=[replace(first, text=first.text + "。")])
    assert corpus_digest(changed) != corpus_digest(sample_corpus)
