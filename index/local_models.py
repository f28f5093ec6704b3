"""Models on this machine: where they are installed, finding one on disk, loading it offline.

This machine (and many deployments) cannot reach a model hub, so nothing here downloads:
:func:`resolve_local_model` finds a model (an installed folder, a folder path, or a snapshot
in the Hugging Face / sentence-transformers cache) by looking at the file system only, and
:func:`offline_env` switches the hub's offline mode on while a library loads one. The
embedder (:mod:`index.st_embedder`), the transformers reader and `rag models` share them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

INSTALL_HINT = "pip install -e '.[models]'"

E5_MODEL_NAME = "intfloat/multilingual-e5-small"
INSTALL_MANIFEST = "rag_model.json"  # written last by `rag models install`
DEFAULT_MODELS_DIR = "var/models"
ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_qint8.onnx"}

_WEIGHT_PATTERNS = (
    "*.safetensors",
    "*.bin",
    "*.onnx",
    "*/*.safetensors",
    "*/*.bin",
    "*/*.onnx",
)


# -- finding a model on disk ----------------------------------------------------------------
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


# -- loading one without the network ---------------------------------------------------------
@contextlib.contextmanager
def offline_env() -> Iterator[None]:
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
