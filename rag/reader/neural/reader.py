"""The neural reader at question time: the installed multilingual-e5-small encoder with the
project's LoRA adapter and span head applied, checked before use.

:func:`check_adapter` verifies the committed adapter (every file against its manifest's
sha256) and the installed base model (its ``model.safetensors`` against the checksum the
adapter was trained on); any mismatch is a :class:`NeuralReaderError` that says what to
do. :func:`rag.reader.make_reader` turns that error into the offline reader with a note,
which the log, ``/health`` and the page show.

Reading: the question is paired with each of the first ``read_n`` retrieved chunks, cut in
windows of ``window`` tokens (stride ``stride``) and read in one batch. Every window gives
its best spans and its no-answer score (both pointers on ``<s>``); a span's score is its
margin over its own window's no-answer score, so windows of passages that do not hold the
answer rank their spans low. Offsets are the tokenizer's, mapped to the article's text, so
``article.text[g.start:g.end] == g.text``. The confidence is ``sigmoid(a * margin + b)``
with ``a``, ``b`` and the threshold fitted on the sample corpus's ``dev`` split
(``calibration.json``, tied to the adapter's sha256; ``python -m eval.calibrate_neural``).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from index.local_models import (
    E5_MODEL_NAME,
    INSTALL_HINT,
    installed_manifest,
    offline_env,
    resolve_local_model,
)
from rag.reader.base import Reading, SpanGuess
from rag.reader.neural.shape import fits, shape
from rag.reader.neural.spans import MAX_ANSWER_TOKENS, trim
from rag.reader.question import analyse
from rag.types import Passage

log = logging.getLogger("rag.reader.neural")

ADAPTER_DIR = Path(__file__).with_name("adapter")
CALIBRATION = Path(__file__).with_name("calibration.json")
BASE_WEIGHTS = "model.safetensors"
N_BEST = 10  # start and end candidates per window
MAX_GUESSES = 20
MAX_ANSWER_CHARS = 40
TYPE_PENALTY = 4.0  # a span that cannot be the kind asked for (no numeral for "how many")


class NeuralReaderError(RuntimeError):
    """The neural reader cannot be used: its adapter or its base model is missing or does
    not match. The message says which and what to run."""


def _sha256(path: Path) -> str:
    from rag.models.install import file_sha256

    return file_sha256(path)


@lru_cache(maxsize=8)
def _base_sha256(path: str, size: int, mtime_ns: int) -> str:
    """The base weights' sha256, once per file version (hundreds of MB: about a second)."""
    return _sha256(Path(path))


def check_adapter(adapter_dir: Path = ADAPTER_DIR, base: Path | None = None) -> tuple[dict, Path]:
    """The adapter's manifest and the base model folder, both verified; else
    :class:`NeuralReaderError`."""
    adapter_dir = Path(adapter_dir)
    try:
        manifest = json.loads((adapter_dir / "manifest.json").read_text(encoding="utf-8"))
        files = dict(manifest["files"])
        want_base = str(manifest["base_model"]["model.safetensors sha256"])
    except FileNotFoundError:
        raise NeuralReaderError(
            f"no neural reader adapter in {adapter_dir} (manifest.json is missing); "
            "restore it (git checkout rag/reader/neural/adapter) or train and publish one "
            "(make train-model-reader)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise NeuralReaderError(
            f"the neural reader's manifest in {adapter_dir} is unreadable or incomplete ({e})"
        ) from None
    if "adapter_model.safetensors" not in files:
        raise NeuralReaderError(f"the manifest in {adapter_dir} lists no adapter weights")
    for name, want in sorted(files.items()):
        p = adapter_dir / name
        if not p.is_file():
            raise NeuralReaderError(f"the neural reader adapter is incomplete: {p} is missing")
        if _sha256(p) != want:
            raise NeuralReaderError(
                f"{p} does not match its manifest (sha256 differs): the adapter is damaged "
                "or was changed; restore it (git checkout rag/reader/neural/adapter) or "
                "publish it again (python -m eval.neural_reader_artifact)"
            )
    if base is None:
        found = resolve_local_model(E5_MODEL_NAME)
        if found is None:
            raise NeuralReaderError(
                f"the neural reader's base model {E5_MODEL_NAME} is not installed: "
                "run `rag models install`"
            )
        base = Path(found)
    base = Path(base)
    if installed_manifest(base) is None:
        raise NeuralReaderError(
            f"the base model folder {base} is incomplete (no valid install manifest): "
            "run `rag models install --force`"
        )
    weights = base / BASE_WEIGHTS
    st = weights.stat()
    got = _base_sha256(str(weights), st.st_size, st.st_mtime_ns)
    if got != want_base:
        raise NeuralReaderError(
            f"the adapter was trained on base weights with sha256 {want_base[:16]}…, but "
            f"{weights} has {got[:16]}…: reinstall the model (`rag models install --force`) "
            "or retrain the adapter on this one"
        )
    return manifest, base


def load_calibration(adapter_sha256: str, path: Path = CALIBRATION) -> dict[str, float]:
    """``a``, ``b`` and ``threshold`` for this adapter; the plain defaults (``margin > 0``)
    when the file is missing or was fitted for another adapter."""
    default = {"a": 1.0, "b": 0.0, "threshold": 0.5}
    try:
        cal = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
    if cal.get("adapter_sha256") != adapter_sha256:
        log.warning("the neural reader's calibration is for another adapter; using defaults")
        return default
    return {k: float(cal[k]) for k in default}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


class NeuralReader:
    """The project's trained extractive reader (see the module docstring)."""

    offline = False

    def __init__(
        self,
        base: Path,
        adapter_dir: Path,
        manifest: dict,
        *,
        read_n: int = 3,
        window: int = 256,
        stride: int = 96,
        batch_size: int = 16,
    ) -> None:
        # configuration only: the model loads in warm_up (construction stays cheap)
        self.base, self.adapter_dir, self.manifest = Path(base), Path(adapter_dir), manifest
        self.read_n, self.window, self.stride = read_n, window, stride
        self.batch_size = max(1, batch_size)
        self.type_penalty = TYPE_PENALTY
        cal = load_calibration(manifest["files"]["adapter_model.safetensors"])
        self.a, self.b, self.threshold = cal["a"], cal["b"], cal["threshold"]
        self.name = "neural (multilingual-e5-small + LoRA)"
        self._tokenizer: Any = None
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, adapter_dir: Path = ADAPTER_DIR, base: Path | None = None, **kw) -> NeuralReader:
        """Check the adapter and the base model, then configure (the weights load lazily)."""
        manifest, base = check_adapter(adapter_dir, base)
        return cls(base, adapter_dir, manifest, **kw)

    def __repr__(self) -> str:
        return f"NeuralReader(base={str(self.base)!r}, adapter={str(self.adapter_dir)!r})"

    def warm_up(self) -> None:
        """Load the base model, apply the adapter and merge it in (one plain model: as fast
        as the base). Not quantised: dynamic int8 cost 36 points of dev EM and no time."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            try:
                import torch  # noqa: F401
                from peft import PeftModel
                from transformers import AutoModelForQuestionAnswering, AutoTokenizer
            except ImportError as e:
                raise NeuralReaderError(
                    f"the neural reader needs torch, transformers and peft: {INSTALL_HINT}"
                ) from e
            log.info("loading the neural reader: %s + %s", self.base, self.adapter_dir)
            from transformers.utils import logging as hf_logging

            level = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # the base has no span head: the adapter brings it
            try:
                with offline_env():
                    tokenizer = AutoTokenizer.from_pretrained(str(self.base), local_files_only=True)
                    model = AutoModelForQuestionAnswering.from_pretrained(
                        str(self.base), local_files_only=True
                    )
                    model = PeftModel.from_pretrained(
                        model, str(self.adapter_dir)
                    ).merge_and_unload()
            finally:
                hf_logging.set_verbosity(level)
            model.eval()
            self._tokenizer, self._model = tokenizer, model

    def _logits(self, enc: Any) -> tuple[Any, Any]:
        import torch

        starts, ends = [], []
        with torch.inference_mode():
            for i in range(0, len(enc["input_ids"]), self.batch_size):
                out = self._model(
                    input_ids=enc["input_ids"][i : i + self.batch_size],
                    attention_mask=enc["attention_mask"][i : i + self.batch_size],
                )
                starts.append(out.start_logits.float())
                ends.append(out.end_logits.float())
        return torch.cat(starts).numpy(), torch.cat(ends).numpy()

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        """Ranked spans of the first ``read_n`` passages and the calibrated confidence."""
        keep = [i for i, p in enumerate(passages[: self.read_n]) if p.chunk.text.strip()]
        if not keep or not question.strip():
            return Reading((), 0.0, None, self.threshold)
        answer_type = analyse(question).answer_type
        self.warm_up()
        q_ids = self._tokenizer(question, add_special_tokens=False)["input_ids"]
        if len(q_ids) > self.window // 2:  # a long question keeps its first half-window
            question = self._tokenizer.decode(q_ids[: self.window // 2])
        enc = self._tokenizer(
            [question] * len(keep),
            [passages[i].chunk.text for i in keep],
            truncation="only_second",
            max_length=self.window,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="longest",
            return_tensors="pt",
        )
        start_logits, end_logits = self._logits(enc)
        sample_of = enc["overflow_to_sample_mapping"].tolist()
        offsets = enc["offset_mapping"].tolist()
        best: dict[tuple[Any, int, int], SpanGuess] = {}
        for f, sample in enumerate(sample_of):
            pi = keep[sample]
            passage = passages[pi]
            text, shift = passage.chunk.text, 0
            if passage.article is not None:
                text, shift = passage.article.text, passage.chunk.text_start
            owner: Any = passage.article.id if passage.article else ("chunk", passage.chunk.id)
            s_log, e_log = start_logits[f], end_logits[f]
            null = float(s_log[0] + e_log[0])
            ctx = [t for t, sid in enumerate(enc.sequence_ids(f)) if sid == 1]
            if not ctx:
                continue
            top_s = sorted(ctx, key=lambda t: -s_log[t])[:N_BEST]
            top_e = sorted(ctx, key=lambda t: -e_log[t])[:N_BEST]
            for s in top_s:
                for e in top_e:
                    if e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                        continue
                    a, b = trim(text, shift + offsets[f][s][0], shift + offsets[f][e][1])
                    if b <= a:
                        continue
                    a, b = trim(text, *shape(text, a, b, answer_type))
                    if b <= a or b - a > MAX_ANSWER_CHARS:
                        continue
                    margin = float(s_log[s] + e_log[e]) - null
                    key = (owner, a, b)
                    if key not in best or best[key].score < margin:
                        best[key] = SpanGuess(pi, a, b, text[a:b], margin)
        if not best:
            return Reading((), 0.0, answer_type, self.threshold)

        def rank(g: SpanGuess) -> tuple[float, int, int]:
            penalty = 0.0 if fits(g.text, answer_type) else self.type_penalty
            return (-(g.score - penalty), g.passage, g.start)

        guesses = sorted(best.values(), key=rank)
        confidence = _sigmoid(self.a * guesses[0].score + self.b)
        return Reading(tuple(guesses[:MAX_GUESSES]), confidence, answer_type, self.threshold)
