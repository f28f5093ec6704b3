"""A transformers extractive-QA model as a :class:`rag.reader.Reader`, strictly offline.

The model (a name or a local path) is found on disk only (:func:`resolve_local_qa_model`)
and loaded lazily with ``local_files_only=True``; nothing here ever downloads. Every passage
is read in overlapping windows of ``window`` tokens; the best start/end pairs of every window
become :class:`~rag.reader.SpanGuess` es with offsets into the passage's *article* text (chunk
offsets when a passage has no article), so that ``article.text[g.start:g.end] == g.text``.

``Reading.confidence`` is the model's own probability that the best span is the answer: a
softmax over all candidate span scores (start + end logit) and the "no answer" ([CLS]) score.
It is *not* calibrated on our dev set (the offline reader's is), so its ``threshold`` of 0.5
is a plain default.

>>> reader = TransformersReader("/models/roberta-base-chinese-extractive-qa")  # doctest: +SKIP
>>> reading = reader.read("谁主持会议？", passages)  # doctest: +SKIP
>>> best = reading.guesses[0]  # doctest: +SKIP
>>> passages[best.passage].article.text[best.start : best.end] == best.text  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

from index.local_models import INSTALL_HINT, offline_env, resolve_local_model
from rag.reader.base import Reading, SpanGuess
from rag.reader.neural.spans import top_pointers, trim
from rag.types import Passage

log = logging.getLogger("rag.reader.transformers_reader")

N_BEST = 20  # start and end candidates per window, as in the transformers QA pipeline
MAX_GUESSES = 20


def resolve_local_qa_model(name_or_path: str) -> str | None:
    """The local folder holding ``name_or_path`` (a folder, or a snapshot in the Hugging Face
    cache), or ``None``; looks at the file system only, so it is fast and never blocks."""
    return resolve_local_model(name_or_path)


class TransformersReader:
    """An extractive-QA model (e.g. ``uer/roberta-base-chinese-extractive-qa``) read offline."""

    offline = False

    def __init__(
        self,
        model: str,
        *,
        max_answer_chars: int = 40,
        window: int = 384,
        stride: int = 128,
        batch_size: int = 16,
        device: str = "cpu",
    ) -> None:
        # configuration only: loading waits for warm_up (construction must stay cheap)
        self.name = model
        self.max_answer_chars = max_answer_chars
        self.window = window
        self.stride = stride
        self.batch_size = max(1, batch_size)
        self.device = device
        self._tokenizer: Any = None
        self._model: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TransformersReader(model={self.name!r})"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def warm_up(self) -> None:
        """Load the tokenizer and model once, from local files only."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            try:
                import torch  # noqa: F401
                from transformers import AutoModelForQuestionAnswering, AutoTokenizer
            except ImportError as e:
                raise ImportError(
                    f"the reader model {self.name!r} needs transformers and torch: "
                    f"{INSTALL_HINT} (or use the offline reader)"
                ) from e
            source = resolve_local_qa_model(self.name) or self.name
            log.info("loading reader model %s from %s", self.name, source)
            with offline_env():
                tokenizer = AutoTokenizer.from_pretrained(
                    source, use_fast=True, local_files_only=True
                )
                model = AutoModelForQuestionAnswering.from_pretrained(source, local_files_only=True)
            if not getattr(tokenizer, "is_fast", False):  # offsets need a fast tokenizer
                raise ValueError(f"the reader model {self.name!r} has no fast tokenizer")
            model.to(self.device).eval()
            self._tokenizer = tokenizer
            self._model = model

    def _logits(self, enc: Any) -> tuple[Any, Any]:
        """Start and end logits of every feature, run in batches of ``batch_size``."""
        import torch

        names = [k for k in self._tokenizer.model_input_names if k in enc]
        starts, ends = [], []
        with torch.inference_mode():
            for i in range(0, len(enc["input_ids"]), self.batch_size):
                inputs = {k: enc[k][i : i + self.batch_size].to(self.device) for k in names}
                out = self._model(**inputs)
                starts.append(out.start_logits.float().cpu())
                ends.append(out.end_logits.float().cpu())
        return torch.cat(starts).numpy(), torch.cat(ends).numpy()

    def _fit_question(self, question: str) -> tuple[str, int, int]:
        """The question cut to at most half a window, the window and the stride that fit."""
        tok = self._tokenizer
        window = self.window
        limit = getattr(tok, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < window:
            window = limit
        q = tok(question, add_special_tokens=False, return_offsets_mapping=True)
        if len(q["input_ids"]) > window // 2:  # else only_second truncation cannot fit
            question = question[: q["offset_mapping"][window // 2 - 1][1]]
            q_len = window // 2
        else:
            q_len = len(q["input_ids"])
        room = window - q_len - tok.num_special_tokens_to_add(pair=True)
        return question, window, max(0, min(self.stride, room - 1))

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        """Ranked answer spans in ``passages`` and the model's probability for the first."""
        keep = [i for i, p in enumerate(passages) if p.chunk.text.strip()]
        if not keep or not question.strip():
            return Reading((), 0.0)
        self.warm_up()
        question, window, stride = self._fit_question(question)
        contexts = [passages[i].chunk.text for i in keep]
        enc = self._tokenizer(
            [question] * len(contexts),
            contexts,
            truncation="only_second",
            max_length=window,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        start_logits, end_logits = self._logits(enc)
        sample_of = enc["overflow_to_sample_mapping"].tolist()
        offsets = enc["offset_mapping"].tolist()
        cls_id = self._tokenizer.cls_token_id

        best: dict[tuple[Any, int, int], SpanGuess] = {}
        null_score = math.inf
        for f in range(len(sample_of)):
            pi = keep[sample_of[f]]
            passage = passages[pi]
            base, shift = passage.chunk.text, 0
            if passage.article is not None:  # article offsets, so the pipeline sees around cuts
                base, shift = passage.article.text, passage.chunk.text_start
            key0: Any = passage.article.id if passage.article else ("chunk", passage.chunk.id)
            s_log, e_log = start_logits[f], end_logits[f]
            ids = enc["input_ids"][f].tolist()
            cls = ids.index(cls_id) if cls_id in ids else 0
            # HF convention: the window most open to an answer speaks for "no answer"
            null_score = min(null_score, float(s_log[cls] + e_log[cls]))
            pointers = top_pointers(enc.sequence_ids(f), s_log, e_log, N_BEST)
            if pointers is None:
                continue
            top_s, top_e = pointers
            for s in top_s:
                for e in top_e:
                    # loose bound before trimming: a span may lose punctuation and spaces
                    if e < s or offsets[f][e][1] - offsets[f][s][0] > 4 * self.max_answer_chars:
                        continue
                    a, b = trim(base, shift + offsets[f][s][0], shift + offsets[f][e][1])
                    if b <= a or b - a > self.max_answer_chars:
                        continue
                    score = float(s_log[s] + e_log[e])
                    key = (key0, a, b)
                    if key not in best or best[key].score < score:
                        best[key] = SpanGuess(
                            passage=pi, start=a, end=b, text=base[a:b], score=score
                        )
        if not best:
            return Reading((), 0.0)
        guesses = sorted(best.values(), key=lambda g: (-g.score, g.passage, g.start))
        # softmax over every distinct candidate span plus the null answer
        scores = [g.score for g in guesses] + ([null_score] if math.isfinite(null_score) else [])
        top = max(scores)
        total = sum(math.exp(x - top) for x in scores)
        confidence = math.exp(guesses[0].score - top) / total
        return Reading(tuple(guesses[:MAX_GUESSES]), min(1.0, max(0.0, confidence)), None, 0.5)
