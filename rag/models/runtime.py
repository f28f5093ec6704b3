"""Choosing the fastest faithful runtime for an installed folder, on this machine.

:func:`export_onnx` writes the transformer as ONNX float32 and its int8 quantisation;
:func:`choose_runtime` times PyTorch and both ONNX files on the check sentences and keeps
the fastest whose vectors stay within :data:`MIN_RUNTIME_COSINE` of PyTorch float32.
Which one wins depends on the machine's CPU, so it is measured where the model is installed.
"""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.local_models import ONNX_FILES
from rag.models.check import CHECK_SENTENCES

MIN_RUNTIME_COSINE = 0.99  # a faster runtime (ONNX, int8) vs the float32 model
ONNX_FP32, ONNX_INT8 = ONNX_FILES["onnx"], ONNX_FILES["onnx-int8"]


def export_onnx(folder: Path) -> None:
    """``onnx/model.onnx`` (the transformer: ids and mask in, hidden states out) and its
    int8 quantisation ``onnx/model_qint8.onnx`` (dynamic, per-channel weights)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    # a fresh instance, dropped afterwards: tracing leaves the traced instance altered
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    class _Hidden(torch.nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):  # noqa: ANN001, ANN201
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tok(["query: 天津港的集装箱航线有多少条？"], return_tensors="pt")
    (folder / "onnx").mkdir(exist_ok=True)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing and its future
        torch.onnx.export(
            _Hidden(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(folder / ONNX_FP32),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    del model
    quiet = logging.getLogger()  # the quantiser logs a pre-processing hint at WARNING
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(folder / ONNX_FP32),
            str(folder / ONNX_INT8),
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    finally:
        quiet.setLevel(level)


def _time_engine(encode: Callable[[list[str]], np.ndarray], sentences: Sequence[str]):
    """Vectors of the check sentences as queries and passages, with timings."""
    encode(["query: 预热"])
    q_times, queries = [], []
    for s in sentences:
        t = time.perf_counter()
        queries.append(encode([f"query: {s}"])[0])
        q_times.append(time.perf_counter() - t)
    passages_in = [f"passage: {s}" for s in sentences] * 2
    t = time.perf_counter()
    passages = encode(passages_in)[: len(sentences)]
    p_rate = len(passages_in) / (time.perf_counter() - t)
    return np.vstack([np.array(queries), passages]), float(np.median(q_times) * 1000), p_rate


def choose_runtime(folder: Path, sentences: Sequence[str] = CHECK_SENTENCES) -> dict[str, Any]:
    """Measure PyTorch (sentence-transformers), ONNX float32 and ONNX int8 on this machine;
    keep the fastest whose vectors stay within cosine ``MIN_RUNTIME_COSINE`` of PyTorch's.

    Returns ``{"backend", "file", "candidates": {name: {min_cosine, query_ms,
    passages_per_s}}}``; deletes the ONNX file that is not chosen.
    """
    from sentence_transformers import SentenceTransformer

    from index.onnx_encoder import OnnxEncoder

    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def torch_encode(texts: list[str]) -> np.ndarray:
        return st.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)

    engines: dict[str, Callable[[list[str]], np.ndarray]] = {"torch": torch_encode}
    for name, rel in ONNX_FILES.items():
        engines[name] = OnnxEncoder(folder, rel).encode
    ref = None
    table: dict[str, dict[str, float]] = {}
    for name, encode in engines.items():
        vecs, q_ms, p_rate = _time_engine(encode, sentences)
        if ref is None:
            ref = vecs
        table[name] = {
            "min_cosine": round(float(np.min(np.sum(vecs * ref, axis=1))), 6),
            "query_ms": round(q_ms, 2),
            "passages_per_s": round(p_rate, 1),
        }
    ok = [n for n, r in table.items() if r["min_cosine"] >= MIN_RUNTIME_COSINE]
    best = min(
        ok,
        key=lambda n: (
            table[n]["query_ms"] / max(table["torch"]["query_ms"], 1e-9)
            + table["torch"]["passages_per_s"] / max(table[n]["passages_per_s"], 1e-9)
        ),
    )
    for name, rel in ONNX_FILES.items():
        if name != best:
            (folder / rel).unlink(missing_ok=True)
    if best == "torch":
        shutil.rmtree(folder / "onnx", ignore_errors=True)
    return {"backend": best, "file": ONNX_FILES.get(best), "candidates": table}
