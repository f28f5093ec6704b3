"""rag-zh: extractive question answering over Chinese documents, with citations you can check.

The version is declared here and only here: the package metadata (``pyproject.toml`` reads
it), ``rag --version``, ``/health`` and the OpenAPI page take it from :data:`__version__`.

The distribution installs four top-level packages, ``rag``, ``index``, ``api`` and ``eval``
(the design's folders). The last three are common names: :func:`check_import_roots` makes
sure the ones Python imports are this distribution's, beside ``rag``, and says what to do
when another distribution's namesake comes first on the path or has overwritten one.
"""

from __future__ import annotations

__version__ = "0.2.0"
ROOTS = ("index", "api", "eval")


def check_import_roots() -> None:
    """Raise ImportError unless ``index``, ``api`` and ``eval`` are this distribution's."""
    import importlib.util
    import sys
    from pathlib import Path

    home = Path(__file__).resolve().parent.parent
    for name in ROOTS:
        module = sys.modules.get(name)
        where = getattr(module, "__file__", None) if module is not None else None
        if where is None:
            spec = importlib.util.find_spec(name)
            where = spec.origin if spec else None
        origin = Path(where).resolve() if where else None
        ours = origin is not None and origin.parent.parent == home
        if ours:
            text = origin.read_text(encoding="utf-8", errors="replace")
            ours = '__distribution__ = "rag-zh"' in text
        if not ours:
            raise ImportError(
                f"the package {name!r} that Python imports ({origin or 'none found'}) is not "
                f"rag-zh's (expected {home / name}): another distribution or a local "
                f"{name}.py shadows it. Install rag-zh in a virtual environment of its own "
                "(the Dockerfile and `make setup` do), or remove the other one."
            )
