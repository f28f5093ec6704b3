"""A sentence-transformers model as an :class:`index.embedders.Embedder`, strictly offline.

This machine (and many deployments) cannot reach a model hub, so nothing here ever downloads:

- :func:`resolve_local_model` finds a model on disk (a folder, or a snapshot in the Hugging
  Face / sentence-transformers cache) by looking at the file system only;
- :class:`SentenceTransformerEmbedder` stores its configuration when built and loads the
  model lazily, with ``local_files_only=True`` and the hub's offline mode switched on for the
  duration of the load.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("index.st_embedder")

INSTALL_HINT = "pip install -e '.[models]'"

E5_MODEL_NAME = "intfloat/multilingual-e5-small"
INSTALL_MANIFEST = "rag_model.json"  # written last by `rag models install`
DEFAULT_MODELS_DIR = "var/models"
ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_qint8.onnx"}
BACKENDS = ("auto", "torch", *ONNX_FILES)

E5_QUERY_PROMPT = "query: "
E5_PASSAGE_PROMPT = "passage: "
E5_INSTRUCT_QUERY_PROMPT = (
    "Instruct: Given a question, retrieve passages that answer the question\nQuery: "
)
BGE_ZH_QUERY_PROMPT = "为这个句子生成表示以用于检索相关文章："
BGE_EN_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "

_WEIGHT_PATTERNS = (
    "*.safetensors",
    "*.bin",
    "*.onnx",
    "*/*.safetensors",
    "*/*.bin",
    "*/*.onnx",
)


# ---------------------------------------------------------------------------------------------
# finding a model on disk


def models_home() -> Path:
    """Where `rag models install` puts models: ``RAG_MODELS_DIR``, else ``var/models``."""
    return Path(os.environ.get("RAG_MODELS_DIR") or DEFAULT_MODELS_DIR).expanduser()


def installed_manifest(folder: Path) -> dict[str, Any] | None:
    """The install manifest of a model folder when the install is complete, else ``None``.

    Cheap (no hashing, so `auto` decides in milliseconds): the manifest parses and every file
    it lists is there with its recorded size. A half-written, truncated or emptied folder
    fails this; `rag models verify` also compares every file's sha256.
    """
    try:
        manifest = json.loads((Path(folder) / INSTALL_MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        for rel, info in files.items():
            if (Path(folder) / rel).stat().st_size != info["bytes"]:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifest if files else None


def _installed_folder(name: str) -> Path | None:
    """An installed model whose manifest names ``name`` (a hub id or the folder's name).

    A reinstall moves the old folder aside (``.NAME.old-PID``) just before renaming the new
    one into place; a kill between the two renames leaves only that one, which is then
    used (the next install puts it back).
    """
    home = models_home()
    try:
        entries = sorted(p for p in home.iterdir() if p.is_dir())
    except OSError:
        return None
    short = name.rstrip("/").rsplit("/", 1)[-1]
    visible = sorted(
        (p for p in entries if not p.name.startswith(".")), key=lambda p: p.name != short
    )
    aside = [p for p in entries if p.name.startswith(".") and ".old-" in p.name]
    for p in [*visible, *aside]:
        folder_name = p.name.split(".")[1] if p in aside else p.name
        manifest = installed_manifest(p)
        if manifest and name in (manifest.get("name"), folder_name):
            return p
    return None


def _hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):  # legacy name
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _looks_like_model(folder: Path) -> bool:
    """A config plus at least one weights file: enough to try loading without the network."""
    if not ((folder / "config.json").is_file() or (folder / "modules.json").is_file()):
        return False
    return any(any(folder.glob(p)) for p in _WEIGHT_PATTERNS)


def _snapshot_in(cache: Path, repo_id: str) -> Path | None:
    """The snapshot folder of ``repo_id`` in a hub-style cache, preferring the ``main`` ref."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo_dir / "refs" / "main"
    with contextlib.suppress(OSError):
        commit = ref.read_text(encoding="utf-8").strip()
        candidate = snapshots / commit
        if commit and _looks_like_model(candidate):
            return candidate
    # no usable ref (e.g. a pinned revision was downloaded): the newest complete snapshot
    found = [p for p in snapshots.iterdir() if p.is_dir() and _looks_like_model(p)]
    if not found:
        return None
    return max(found, key=lambda p: p.stat().st_mtime)


def _repo_id_candidates(name: str) -> list[str]:
    name = name.strip().strip("/")
    if not name or name.count("/") > 1 or "\\" in name or name.startswith("."):
        return []
    ids = [name]
    if "/" not in name:  # sentence-transformers' short names: "all-MiniLM-L6-v2"
        ids.append("sentence-transformers/" + name)
    return ids


def resolve_local_model(name_or_path: str) -> str | None:
    """The local folder to load ``name_or_path`` from, or ``None``; never touches the network.

    An existing directory is returned as is. A name is looked up first among the models that
    `rag models install` put in :func:`models_home` (complete installs only), then in the
    Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME/hub`` or ``~/.cache/huggingface/hub``)
    and in ``SENTENCE_TRANSFORMERS_HOME`` (hub layout, or the flat ``org_name`` layout of old
    sentence-transformers releases); the snapshot folder is returned when it holds a config
    and weights.
    """
    if not name_or_path:
        return None
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    ids = _repo_id_candidates(name_or_path)
    if not ids:
        return None
    installed = _installed_folder(name_or_path)  # `rag models install` (models_home())
    if installed is not None:
        return str(installed)

    caches = [_hf_hub_cache()]
    st_home = os.environ.get("SENTENCE_TRANSFORMERS_HOME")
    if st_home:
        caches.append(Path(st_home).expanduser())
    for cache in caches:
        for repo_id in ids:
            try:
                snap = _snapshot_in(cache, repo_id)
            except OSError:
                snap = None
            if snap is not None:
                return str(snap)
    if st_home:
        for repo_id in ids:
            flat = Path(st_home).expanduser() / repo_id.replace("/", "_")
            if flat.is_dir() and _looks_like_model(flat):
                return str(flat)
    return None


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


@contextlib.contextmanager
def _offline_env() -> Iterator[None]:
    """Hub offline mode for the duration of a model load, restored afterwards."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {k: os.environ.get(k) for k in keys}
    hub_constants = sys.modules.get("huggingface_hub.constants")
    saved_const = getattr(hub_constants, "HF_HUB_OFFLINE", None) if hub_constants else None
    try:
        for k in keys:
            os.environ[k] = "1"
        if hub_constants is not None and saved_const is not None:
            # read once at import time, so the environment alone is not enough
            hub_constants.HF_HUB_OFFLINE = True
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if hub_constants is not None and saved_const is not None:
            hub_constants.HF_HUB_OFFLINE = saved_const


class SentenceTransformerEmbedder:
    """A pretrained sentence-transformers model, loaded lazily and only from local files.

    Vectors are L2-normalised float32. Query and passage prompts follow the model family
    (E5: ``query: ``/``passage: ``; Chinese BGE: an instruction on queries only) unless
    given explicitly.
    """

    offline = False

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
            with _offline_env():
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

    def fit(self, texts: Sequence[str]) -> None:
        """Pretrained: nothing to learn from the corpus."""

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
