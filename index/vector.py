"""A FAISS store over normalised vectors: exact search when small, HNSW above a size."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class VectorStore:
    """Inner-product search over unit vectors; row i is chunk i of the index.

    >>> vs = VectorStore.build(np.eye(3, dtype=np.float32))
    >>> [int(i) for i in vs.search(np.array([0, 1, 0], dtype=np.float32), k=1)[0]]
    [1]
    """

    def __init__(self, index, kind: str) -> None:
        self.index = index
        self.kind = kind

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, hnsw_above: int = 50_000, hnsw_m: int = 32
    ) -> VectorStore:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape if vectors.ndim == 2 else (0, 1)
        if n > hnsw_above:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 96
            kind = "hnsw"
        else:
            index = faiss.IndexFlatIP(dim)
            kind = "flat"
        if n:
            index.add(vectors)
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def matrix(self) -> np.ndarray:
        """The stored vectors (row i is chunk i) as a read-only view of FAISS's own copy: no
        second copy in memory; memory-mapped when the index was loaded from disk."""
        import faiss

        flat = faiss.downcast_index(self.index.storage if self.kind == "hnsw" else self.index)
        n, d = int(flat.ntotal), int(flat.d)
        if n == 0:
            return np.zeros((0, d), dtype=np.float32)
        m = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
        m.flags.writeable = False
        return m

    def search(self, query: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(q, min(k, len(self)))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorStore:
        import faiss

        # memory-mapped (flat codes, HNSW storage): worker processes share one copy. Safe
        # because an index version's files are never rewritten in place (builds write a
        # new version folder)
        index = faiss.read_index(str(path), getattr(faiss, "IO_FLAG_MMAP_IFC", 0))
        kind = "hnsw" if "HNSW" in type(index).__name__ else "flat"
        return cls(index, kind)
