"""rag-zh: extractive question answering over Chinese documents, with citations you can check.

The version is declared here and only here: the package metadata (``pyproject.toml`` reads
it), ``rag --version``, ``/health`` and the OpenAPI page take it from :data:`__version__`.
"""

__version__ = "0.2.0"
