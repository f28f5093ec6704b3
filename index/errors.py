"""Errors of the index layer, importable without loading NumPy, SciPy or FAISS (the CLI and
the service's supervisor process need the classes, not the machinery)."""


class IndexLoadError(RuntimeError):
    """The index is missing, half-written, corrupt, or built for something else."""
