"""The index: building (writer), loading (store), BM25, the vector store and the embedders."""

__distribution__ = "rag-zh"  # rag.check_import_roots: this is our index, not a namesake
