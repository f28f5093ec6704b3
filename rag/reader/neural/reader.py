"""The neural reader at question time: the installed multilingual-e5-small encoder with the
project's LoRA adapter and span head applied, checked before use.

:func:`check_adapter` verifies the committed adapter (every file against its manifest's
sha256) and the installed base model (its ``model.safetensors`` against the checksum the
adapter was trained on); any mismatch is a :class:`NeuralReaderError` that says what to
do. :func:`rag.reader.make_reader` turns that error into the offline reader with a note,
which the log, ``/health`` and the page show.

Reading: the question is paired with each of the first ``read_n`` (2) retrieved chunks, cut
in windows of ``window`` tokens (stride ``stride``) and read in one batch, by default as an
int8 ONNX graph (:mod:`rag.reader.neural.onnx_runtime`). Every window gives its best spans and
its no-answer score (both pointers on ``<s>``); a span's score is its margin over its own
window's no-answer score, so windows of passages that do not hold the answer rank their
spans low. Spans get the source's extent (:mod:`rag.reader.neural.shape`); one that cannot
be the kind of answer asked for ranks ``TYPE_PENALTY`` lower. Offsets are the tokenizer's,
mapped to the article's text, so ``article.text[g.start:g.end] == g.text``. The confidence is
``sigmoid(a * margin + b)`` with ``a``, ``b`` and the threshold fitted on the sample corpus's
``dev`` split (``calibration.json``, tied to the adapter's sha256;
``python -m eval.calibrate_neural``). ``focus`` (off by default) reads instead the best
sentences of all the passages up to that many characters: faster, but 6 points of dev EM
lower at 300 characters.

Measured on the dev split (answer-all, same passages, 2 cores): 2 chunks EM 84.6 (3 chunks:
84.6, 1: 81.7); focus 300 characters 78.8, 450: 80.8.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
from rag.reader.neural.spans import MAX_ANSWER_TOKENS, top_pointers, trim
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


class NeuralReaderError(ValueError):
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


def load_calibration(adapter_sha256: str, path: Path = CALIBRATION) -> dict[str, Any]:
    """``a``, ``b``, ``threshold`` and the ``runtime`` they were fitted on, for this adapter;
    the plain defaults (``margin > 0``, any runtime) when the file is missing or was fitted
    for another adapter."""
    default: dict[str, Any] = {"a": 1.0, "b": 0.0, "threshold": 0.5, "runtime": None}
    try:
        cal = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
    if cal.get("adapter_sha256") != adapter_sha256:
        log.warning("the neural reader's calibration is for another adapter; using defaults")
        return default
    return {**{k: float(cal[k]) for k in ("a", "b", "threshold")}, "runtime": cal.get("runtime")}


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
        read_n: int = 2,
        focus: int = 0,
        runtime: str = "auto",
        window: int = 256,
        stride: int = 96,
        batch_size: int = 16,
    ) -> None:
        # configuration only: the model loads in warm_up (construction stays cheap)
        self.base, self.adapter_dir, self.manifest = Path(base), Path(adapter_dir), manifest
        self.read_n, self.window, self.stride = read_n, window, stride
        self.focus = focus  # characters of the best sentences to read; 0: whole chunks
        self.batch_size = max(1, batch_size)
        self.type_penalty = TYPE_PENALTY
        cal = load_calibration(manifest["files"]["adapter_model.safetensors"])
        self.a, self.b, self.threshold = cal["a"], cal["b"], cal["threshold"]
        self.calibrated_on = cal["runtime"]  # margins shift a few logits between runtimes
        self.name = "neural (multilingual-e5-small + LoRA)"
        if runtime not in ("auto", "onnx-int8", "onnx", "torch"):
            raise ValueError(f"runtime: auto, onnx-int8, onnx or torch, not {runtime!r}")
        self.runtime = runtime  # auto: ONNX int8 when it can, else PyTorch
        self.backend_used: str | None = None  # what warm_up chose
        self._tokenizer: Any = None
        self._model: Any = None
        self._onnx_qa: Any = None
        self._lock = threading.Lock()  # loading
        self._run_lock = threading.Lock()  # reading

    @classmethod
    def load(cls, adapter_dir: Path = ADAPTER_DIR, base: Path | None = None, **kw) -> NeuralReader:
        """Check the adapter and the base model, then configure (the weights load lazily)."""
        manifest, base = check_adapter(adapter_dir, base)
        return cls(base, adapter_dir, manifest, **kw)

    def __repr__(self) -> str:
        return f"NeuralReader(base={str(self.base)!r}, adapter={str(self.adapter_dir)!r})"

    def warm_up(self) -> None:
        """Load the base model, apply the adapter and merge it in (one plain model: as fast
        as the base), then, with ``runtime`` ``auto`` or ``onnx``, run it as an ONNX graph
        (int8 unless ``onnx``; exported once into the models folder; PyTorch when
        onnxruntime is missing or the export fails, with ``auto``)."""
        if self.backend_used is not None:
            return
        with self._lock:
            if self.backend_used is not None:
                return
            tokenizer, model = self._merged()
            onnx = None
            if self.runtime != "torch":
                onnx = self._onnx(model, int8=self.runtime in ("auto", "onnx-int8"))
                if onnx is None:
                    if self.runtime != "auto":
                        raise NeuralReaderError("the neural reader's ONNX graph did not load")
                    tokenizer, model = self._merged()  # the export altered the traced one
            self._tokenizer = tokenizer
            self._model, self._onnx_qa = (None, onnx) if onnx else (model, None)
            if onnx is None:
                self.backend_used = "torch"
            else:
                self.backend_used = "onnx" if self.runtime == "onnx" else "onnx-int8"
            if self.calibrated_on and self.calibrated_on != self.backend_used:
                log.warning(
                    "the neural reader runs on %s but was calibrated on %s: its confidence "
                    "is off by a little; recalibrate (python -m eval.calibrate_neural)",
                    self.backend_used,
                    self.calibrated_on,
                )

    def _merged(self) -> tuple[Any, Any]:
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
                model = PeftModel.from_pretrained(model, str(self.adapter_dir)).merge_and_unload()
        finally:
            hf_logging.set_verbosity(level)
        return tokenizer, model.eval()

    def _onnx(self, model: Any, int8: bool) -> Any:
        """The cached ONNX graph of this adapter on this base (exported from ``model`` when
        missing or unreadable), or None when onnxruntime is not there or the export fails."""
        try:
            from rag.reader.neural.onnx_runtime import OnnxQA, cache_path, export
        except ImportError:
            return None
        from index.local_models import models_home

        path = cache_path(
            models_home(),
            self.manifest["files"]["adapter_model.safetensors"],
            self.manifest["base_model"]["model.safetensors sha256"],
            int8,
        )
        for attempt in (1, 2):
            try:
                if not path.is_file():
                    log.info("exporting the neural reader to ONNX: %s", path)
                    export(model, path, int8)
                return OnnxQA(path)
            except Exception as e:  # noqa: BLE001 - any failure: PyTorch serves instead
                log.warning("the neural reader's ONNX graph failed (%s): %s", path, e)
                if attempt == 2 or not path.is_file():
                    return None
                path.unlink(missing_ok=True)  # unreadable: export it again
        return None

    def _logits(self, enc: Any) -> tuple[Any, Any]:
        import numpy as np

        ids, mask = enc["input_ids"], enc["attention_mask"]
        starts, ends = [], []
        for i in range(0, len(ids), self.batch_size):
            b_ids, b_mask = ids[i : i + self.batch_size], mask[i : i + self.batch_size]
            if self._onnx_qa is not None:
                s, e = self._onnx_qa.logits(b_ids.numpy(), b_mask.numpy())
            else:
                import torch

                with torch.inference_mode():
                    out = self._model(input_ids=b_ids, attention_mask=b_mask)
                s, e = out.start_logits.float().numpy(), out.end_logits.float().numpy()
            starts.append(s)
            ends.append(e)
        return np.concatenate(starts), np.concatenate(ends)

    def _contexts(self, question: str, passages: Sequence[Passage]) -> list[list[_Piece]]:
        """What the model reads: with ``focus``, one context of the sentences that hold most
        of the question (up to ``focus`` characters, from all the passages, each article's
        in their own order); else (or when no passage has an article) the first ``read_n``
        chunks whole."""
        if self.focus:
            from rag.reader.offline.sentences import select_sentences
            from rag.reader.offline.terms import question_terms

            chosen, used = [], 0
            for sent in select_sentences(question_terms(question), passages, keep=12):
                if used and used + len(sent.text) > self.focus:
                    continue
                chosen.append(sent)
                used += len(sent.text)
                if used >= self.focus:
                    break
            chosen.sort(key=lambda x: (x.passage, x.start))
            pieces, at = [], 0
            for sent in chosen:
                owner = sent.article.id
                last = pieces[-1] if pieces else None
                if last and last.owner == owner and last.base_end == sent.start:
                    pieces[-1] = replace(last, base_end=sent.end)  # contiguous: one piece
                    at += sent.end - sent.start
                    continue
                at += 1 if pieces else 0  # a newline between pieces
                pieces.append(
                    _Piece(at, sent.passage, sent.article.text, sent.start, sent.end, owner)
                )
                at += sent.end - sent.start
            if pieces:
                return [pieces]
        out = []
        for i, p in enumerate(passages[: self.read_n]):
            if not p.chunk.text.strip():
                continue
            if p.article is not None:
                a0 = p.chunk.text_start
                out.append([_Piece(0, i, p.article.text, a0, a0 + len(p.chunk.text), p.article.id)])
            else:
                out.append([_Piece(0, i, p.chunk.text, 0, len(p.chunk.text), ("chunk", i))])
        return out

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        """Ranked answer spans in ``passages`` and the calibrated confidence."""
        if not question.strip() or not any(p.chunk.text.strip() for p in passages):
            return Reading((), 0.0, None, self.threshold)
        answer_type = analyse(question).answer_type
        contexts = self._contexts(question, passages)
        if not contexts:
            return Reading((), 0.0, answer_type, self.threshold)
        self.warm_up()
        # one question at a time: a fast tokenizer changes its own truncation settings per
        # call (concurrent calls fail with "Already borrowed"), and torch already spreads
        # one forward pass over every core
        with self._run_lock:
            q_ids = self._tokenizer(question, add_special_tokens=False)["input_ids"]
            if len(q_ids) > self.window // 2:  # a long question keeps its first half-window
                question = self._tokenizer.decode(q_ids[: self.window // 2])
            enc = self._tokenizer(
                [question] * len(contexts),
                ["\n".join(piece.text for piece in ctx) for ctx in contexts],
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
            pieces = contexts[sample]
            s_log, e_log = start_logits[f], end_logits[f]
            null = float(s_log[0] + e_log[0])
            pointers = top_pointers(enc.sequence_ids(f), s_log, e_log, N_BEST)
            if pointers is None:
                continue
            top_s, top_e = pointers
            for s in top_s:
                piece = _piece_at(pieces, offsets[f][s][0])
                if piece is None:
                    continue
                for e in top_e:
                    if e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                        continue
                    end = min(offsets[f][e][1], piece.end)
                    text = piece.base
                    a, b = trim(text, piece.to_base(offsets[f][s][0]), piece.to_base(end))
                    if b <= a:
                        continue
                    a, b = trim(text, *shape(text, a, b, answer_type))
                    if b <= a or b - a > MAX_ANSWER_CHARS:
                        continue
                    margin = float(s_log[s] + e_log[e]) - null
                    key = (piece.owner, a, b)
                    if key not in best or best[key].score < margin:
                        best[key] = SpanGuess(piece.passage, a, b, text[a:b], margin)
        if not best:
            return Reading((), 0.0, answer_type, self.threshold)

        def rank(g: SpanGuess) -> tuple[float, int, int]:
            penalty = 0.0 if fits(g.text, answer_type) else self.type_penalty
            return (-(g.score - penalty), g.passage, g.start)

        guesses = sorted(best.values(), key=rank)
        confidence = _sigmoid(self.a * guesses[0].score + self.b)
        return Reading(tuple(guesses[:MAX_GUESSES]), confidence, answer_type, self.threshold)


@dataclass(frozen=True)
class _Piece:
    """A stretch of a passage's text inside a context: ``base[base_start:base_end]`` sits at
    ``at`` in the context string (``base`` is the article's text, or the chunk's)."""

    at: int
    passage: int
    base: str
    base_start: int
    base_end: int
    owner: Any  # who the offsets belong to (an article id, or a chunk)

    @property
    def text(self) -> str:
        return self.base[self.base_start : self.base_end]

    @property
    def end(self) -> int:
        """Where the piece ends in the context string."""
        return self.at + self.base_end - self.base_start

    def to_base(self, ctx_offset: int) -> int:
        return self.base_start + ctx_offset - self.at


def _piece_at(pieces: Sequence[_Piece], ctx_offset: int) -> _Piece | None:
    return next((p for p in pieces if p.at <= ctx_offset < p.end), None)
