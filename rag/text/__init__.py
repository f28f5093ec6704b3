"""The text layer shared by ingest, index and readers: text with an offset map and the CJK
tests (mapped), word lists and character classes (lexicon), word cutting (words), index
ranges (ranges), sentence spans (sentences).

The bottom layer: it imports nothing from the rest of ``rag`` (:mod:`rag.types` builds on
:mod:`rag.text.mapped`, so an import the other way would be a cycle).
"""
