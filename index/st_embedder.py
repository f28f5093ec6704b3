"""A sentence-transformers model as an :class:`index.embedders.Embedder`, strictly offline.

:class:`SentenceTransformerEmbedder` stores its configuration when built and loads the model
lazily from a local folder (:mod:`index.local_models` finds it), with ``local_files_only=True``
and the hub's offline mode switched on for the duration of the load; an ONNX runtime that
`rag models install` chose is used instead of PyTorch when it is there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.local_models import INSTALL_HINT, ONNX_FILES, installed_manifest, offline_env

if TYPE_CHECKING:
    from index.tokens import SearchTokenizer, TokenTable

log = logging.getLogger("index.st_embedder")

BACKENDS = ("auto", "torch", *ONNX_FILES)

E5_QUERY_PROMPT = "query: "
E5_PASSAGE_PROMPT = "passage: "
E5_INSTRUCT_QUERY_PROMPT = (
    "Instruct: Given a question, retrieve passages that answer the question\nQuery: "
)
BGE_ZH_QUERY_PROMPT = "为这个句子生成表示以用于检索相关文章："
BGE_EN_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "


# ---------------------------------------------------------------------------------------------
# prompts


def default_prompts(name: str) -> tuple[str, str]:
    """``(query_prompt, passage_prompt)`` the model family was trained with."""
    n = name.lower()
    if re.search(r"(?<![a-z0-9])e5(?![0-9])", n):
        if "instruct" in n:
            return E5_INSTRUCT_QUERY_PROMPT, ""
        return E5_QUERY_PROMPT, E5_PASSAGE_PROMPT
    if re.search(r"(?<![a-z0-9])bge(?![a-z])", n):
        if "bge-m3" in n:  # BGE-M3 is trained without an instruction
            return "", ""
        if "-en" in n:
            return BGE_EN_QUERY_PROMPT, ""
        return BGE_ZH_QUERY_PROMPT, ""
    return "", ""


# ---------------------------------------------------------------------------------------------
# the embedder


class SentenceTransformerEmbedder:
    """A pretrained sentence-transformers model, loaded lazily and only from local files.

    Vectors are L2-normalised float32. Query and passage prompts follow the model family
    (E5: ``query: ``/``passage: ``; Chinese BGE: an instruction on queries only) unless
    given explicitly.
    """

    offline = False
    fits_corpus = False

    def __init__(
        self,
        name: str,
        local_path: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        *,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        backend: str | None = None,
    ) -> None:
        self.name = name
        self.local_path = local_path
        self.batch_size = batch_size
        self.device = device
        self.backend = backend or os.environ.get("RAG_EMBED_BACKEND") or "auto"
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown embedding backend {self.backend!r}; one of {', '.join(BACKENDS)}"
            )
        self.backend_used: str | None = None  # what warm_up() chose
        q_default, p_default = default_prompts(name)
        self.query_prompt = q_default if query_prompt is None else query_prompt
        self.passage_prompt = p_default if passage_prompt is None else passage_prompt
        self._model: Any = None
        self._batch_model: Any = None  # the ONNX runtimes: a session with every core, batches
        self._dim: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(name={self.name!r}, local_path={self.local_path!r})"

    # loading -----------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _pick_backend(self) -> str:
        """``torch``, or an ONNX runtime when asked for or when the install chose it.

        `rag models install` measures the runtimes on the machine and records the fastest
        that keeps its vectors within cosine 0.99 of PyTorch's (``rag_model.json``); ``auto``
        takes that choice when its file and onnxruntime are there, else PyTorch.
        """
        import importlib.util

        folder = Path(self.local_path) if self.local_path else None
        if self.backend == "torch" or folder is None:
            return "torch"
        if self.backend == "auto":
            manifest = installed_manifest(folder) or {}
            chosen = (manifest.get("runtime") or {}).get("backend", "torch")
            if chosen not in ONNX_FILES:
                return "torch"
            if not (folder / ONNX_FILES[chosen]).is_file():
                log.warning("embedder: %s lacks %s; using PyTorch", folder, ONNX_FILES[chosen])
                return "torch"
            if importlib.util.find_spec("onnxruntime") is None:
                log.warning(
                    "embedder: onnxruntime is not installed; using PyTorch (%s)", INSTALL_HINT
                )
                return "torch"
            return chosen
        if not (folder / ONNX_FILES[self.backend]).is_file():
            raise FileNotFoundError(
                f"the embedding backend {self.backend!r} needs {folder / ONNX_FILES[self.backend]}; "
                "`rag models install --force` writes it, or set RAG_EMBED_BACKEND=torch"
            )
        return self.backend

    def warm_up(self) -> Any:
        """Load the model (once) and return it."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is not None:
                return self._model
            backend = self._pick_backend()
            if backend != "torch":
                from index.onnx_encoder import OnnxEncoder

                log.info(
                    "loading embedding model %s (%s) from %s", self.name, backend, self.local_path
                )
                # one question runs fastest on one thread (5.5 ms, against 5.2 ms on two at
                # twice the CPU); a batch of passages uses every core (29 vs 18 a second):
                # two sessions, the batch one made when first needed (index builds)
                enc = OnnxEncoder(Path(self.local_path), ONNX_FILES[backend], threads=1)
                self._dim = int(enc.warm_up().encode(["测试"]).shape[1])
                self._batch_model = OnnxEncoder(Path(self.local_path), ONNX_FILES[backend])
                self.backend_used, self._model = backend, enc
                return enc
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise ImportError(
                    f"the embedding model {self.name!r} needs sentence-transformers and torch: "
                    f"{INSTALL_HINT} (or use the offline embedder)"
                ) from e
            source = self.local_path or self.name
            log.info("loading embedding model %s from %s", self.name, source)
            with offline_env():
                model = SentenceTransformer(source, device=self.device, local_files_only=True)
            # renamed to get_embedding_dimension in sentence-transformers 6 (old name warns)
            get_dim = getattr(model, "get_embedding_dimension", None)
            if get_dim is None:
                get_dim = model.get_sentence_embedding_dimension
            dim = get_dim()
            if dim is None:  # some custom heads do not report it
                dim = int(model.encode(["测试"], convert_to_numpy=True).shape[1])
            self._dim = int(dim)
            self.backend_used, self._model = "torch", model
            return model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.warm_up()
        assert self._dim is not None
        return self._dim

    # Embedder ----------------------------------------------------------------------------------

    def use_tokenizer(self, tokenizer: SearchTokenizer) -> None:
        """The model has its own tokenizer: the index's is not used."""

    def fit_chunks(self, texts: Sequence[str], table: TokenTable) -> None:
        """Pretrained: nothing to learn from the corpus."""

    def embed_chunks(self, texts: Sequence[str], table: TokenTable) -> np.ndarray:
        return self.embed_passages(texts)

    def _encode(self, texts: Sequence[str], prompt: str, show_progress: bool) -> np.ndarray:
        model = self.warm_up()
        if self.backend_used != "torch":
            if len(texts) > 1:
                model = self._batch_model
            # onnxruntime on a CPU runs small batches fastest (8: 59 vs 43 passages/s at 32)
            return model.encode([prompt + t for t in texts], batch_size=min(self.batch_size, 8))
        vecs = model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts, self.passage_prompt, show_progress=len(texts) > 1000)

    def embed_query(self, text: str, tokens: Sequence[str] | None = None) -> np.ndarray:
        # the model has its own tokenizer: the index's tokens are not used
        return self._encode([text], self.query_prompt, show_progress=False)[0]

    def save(self, folder: Path) -> None:
        """Record which model and prompts were used (the weights stay where they are)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        info = {
            "name": self.name,
            "local_path": self.local_path,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "backend": self.backend_used or self.backend,
        }
        if self._dim is not None:
            info["dim"] = self._dim
        (folder / "st_embedder.json").write_text(
            json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8"
        )
