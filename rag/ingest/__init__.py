"""Ingest: files to documents (loaders), cleaned text with an offset map (cleaning), articles
(segment; with front_matter, drafts and the line patterns), chunks (chunking), and the whole
corpus read in one go (corpus).
"""

# What an index records of the code that turned files into chunks: an index built with
# another value is rebuilt in full. Bump it (any new string) with any change of what ingest
# produces; the test of the sample corpus's chunk digest (tests/test_ingest_version.py)
# fails until then.
TEXT_PIPELINE_VERSION = "cf08f1b92da1f61d"
