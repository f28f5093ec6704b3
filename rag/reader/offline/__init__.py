"""The offline reader: feature-based, no model download, weights shipped with the package."""

from rag.reader.offline.reader import OfflineReader

__all__ = ["OfflineReader"]
