"""The text layer shared by ingest, index and readers: text with an offset map and the CJK
tests (mapped), word cutting (words), index ranges (ranges), sentence spans (sentences).

Imports nothing from the rest of ``rag`` but :mod:`rag.types`.
"""
