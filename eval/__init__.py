"""The eval set, its metrics and runner, and the training and benchmark code."""

__distribution__ = "rag-zh"  # rag.check_import_roots: this is our eval, not a namesake
