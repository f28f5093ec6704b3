"""The reader interface: from a question and retrieved passages to ranked answer spans.

Two implementations sit behind it: :class:`rag.reader.offline.OfflineReader` (no download,
learned weights shipped with the package) and :class:`rag.reader.transformers_reader.TransformersReader`
(an extractive-QA model by name or local path). :func:`make_reader` picks one; ``auto``
uses the model when it loads from the local file system and the offline reader otherwise.

>>> reader = make_reader("offline")
>>> reader.name, reader.offline
('offline', True)
"""

from __future__ import annotations

import logging

from rag.reader.base import Reader, Reading, SpanGuess

__all__ = ["Reader", "Reading", "SpanGuess", "make_reader"]

log = logging.getLogger("rag.reader")

DEFAULT_QA_MODEL = "uer/roberta-base-chinese-extractive-qa"


def make_reader(spec: str = "auto") -> Reader:
    """``offline``, ``auto``, or a model name / local path for :class:`TransformersReader`.

    ``auto`` never touches the network: it uses :data:`DEFAULT_QA_MODEL` only when that is
    already on disk (a local path or the Hugging Face cache), else the offline reader.
    """
    from rag.reader.offline import OfflineReader

    if spec == "offline":
        return OfflineReader.load()
    from rag.reader.transformers_reader import TransformersReader, resolve_local_qa_model

    if spec == "auto":
        path = resolve_local_qa_model(DEFAULT_QA_MODEL)
        if path is None:
            log.info("reader: no local copy of %s; using the offline reader", DEFAULT_QA_MODEL)
            return OfflineReader.load()
        return TransformersReader(path)
    return TransformersReader(spec)
