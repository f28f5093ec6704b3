"""Sentence vectors from an ONNX export of a transformer, run by onnxruntime.

The installed multilingual-e5-small carries ``onnx/model_qint8.onnx`` (exported and quantised
by `rag models install`, checked against the package's vectors). On a 2-core CPU it embeds a
question in about 5.5 ms on one thread, four times faster than the same model in PyTorch
(``scripts/bench_dense.py``, docs/bench_dense.md). This class is the sentence-transformers
pipeline of that folder — tokenizer, transformer, mean pooling, L2 normalisation — with the
transformer run by onnxruntime; the tokenizer is the folder's own ``tokenizer.json``.

>>> enc = OnnxEncoder(Path("var/models/multilingual-e5-small"), "onnx/model_qint8.onnx")  # doctest: +SKIP
>>> enc.encode(["query: 天津港有多少条航线？"]).shape  # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class OnnxEncoder:
    """Mean-pooled, L2-normalised vectors; ``__init__`` stores paths, :meth:`warm_up` loads."""

    def __init__(
        self,
        folder: Path,
        onnx_file: str,
        *,
        max_length: int = 512,
        threads: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.onnx_file = onnx_file
        self.max_length = max_length
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def warm_up(self) -> OnnxEncoder:
        if self._session is not None:
            return self
        with self._lock:
            if self._session is not None:
                return self
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError as e:
                raise ImportError(
                    "the ONNX backend needs onnxruntime: pip install -e '.[models]'"
                ) from e
            tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            tok.enable_truncation(self.max_length)
            tok.no_padding()
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.intra_op_num_threads = self.threads or int(
                os.environ.get("RAG_EMBED_THREADS") or os.cpu_count() or 1
            )
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3  # warnings about unused initializers are noise here
            session = ort.InferenceSession(
                str(self.folder / self.onnx_file), opts, providers=["CPUExecutionProvider"]
            )
            self._tokenizer, self._session = tok, session
        return self

    def encode(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """Vectors of ``texts`` (prompts already in front), shape ``(len(texts), dim)``.

        Texts are batched by length (shorter padding, as sentence-transformers does); the
        result is in the order given.
        """
        self.warm_up()
        assert self._tokenizer is not None and self._session is not None
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out: np.ndarray | None = None
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.ones((len(rows), width), np.int64)  # <pad> = 1 (masked out anyway)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            if out is None:
                out = np.zeros((len(encodings), pooled.shape[1]), np.float32)
            out[rows] = pooled
        if out is None:
            return np.zeros((0, 0), np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (out / norms).astype(np.float32)
