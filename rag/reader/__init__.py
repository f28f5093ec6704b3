"""The reader interface: from a question and retrieved passages to ranked answer spans.

Three implementations sit behind it: :class:`rag.reader.neural.reader.NeuralReader` (the
installed multilingual-e5-small with the project's trained adapter),
:class:`rag.reader.offline.OfflineReader` (no model: learned weights shipped with the
package, the fast path and the fallback) and
:class:`rag.reader.transformers_reader.TransformersReader` (any extractive-QA model by name
or local path). :func:`make_reader` picks one; ``auto`` takes the neural reader when its
adapter and base model check out and the offline reader otherwise.

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
    """``auto``, ``neural``, ``offline``, or a model name / local path for
    :class:`TransformersReader`.

    ``neural`` is the project's trained reader (:mod:`rag.reader.neural`); a missing or
    mismatched adapter or base model is a :class:`NeuralReaderError`. ``auto`` never
    touches the network: the neural reader when it checks out, else a local copy of
    :data:`DEFAULT_QA_MODEL`, else the offline reader, which then carries a ``note``
    saying why (the log, ``/health`` and the page show it).
    """
    from rag.reader.offline import OfflineReader

    if spec == "offline":
        return OfflineReader.load()
    from rag.reader.neural.reader import NeuralReader, NeuralReaderError

    if spec == "neural":
        return NeuralReader.load()
    from rag.reader.transformers_reader import TransformersReader, resolve_local_qa_model

    if spec != "auto":
        return TransformersReader(spec)
    try:
        return NeuralReader.load()
    except NeuralReaderError as e:
        why = f"the neural reader is not used: {e}"
    path = resolve_local_qa_model(DEFAULT_QA_MODEL)
    if path is not None:
        log.warning("reader: %s; using %s", why, path)
        return TransformersReader(path)
    log.warning("reader: %s; using the offline reader", why)
    reader = OfflineReader.load()
    reader.note = why
    return reader
