"""The HTTP service: the FastAPI app (:func:`api.app.create_app`), its schemas and the chat page."""
