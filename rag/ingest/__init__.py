"""Ingest: files to documents (loaders), cleaned text with an offset map (cleaning), articles
(segmentation, patterns), chunks (chunking), and the whole corpus read in one go (corpus).
"""

# What an index records of the code that turned files into chunks: an index built with
# another value is rebuilt in full. Bump it with any change of what ingest produces; the
# test of the sample corpus's chunk digest (tests/test_ingest_version.py) fails until then.
# (The value is the last fingerprint derived from the modules' source, so that indexes
# built before it was declared stay current.)
TEXT_PIPELINE_VERSION = "985b76108b3d4788"
