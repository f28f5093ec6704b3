"""The HTTP service: the FastAPI app (:func:`api.app.create_app`), its schemas and the chat page."""

__distribution__ = "rag-zh"  # rag.check_import_roots: this is our api, not a namesake
