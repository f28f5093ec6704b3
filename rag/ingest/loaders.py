"""Load a corpus folder into :class:`~rag.types.Document` values.

Plain text and markdown keep the decoded file text exactly (only line endings are
normalised to ``"\\n"``); HTML, PDF and DOCX are reduced to their visible text, with
headings rendered as markdown ``#`` lines so later stages can see the structure.
Whatever ``Document.text`` holds is "the text as read": every offset points into it.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.ingest.web import read_page
from rag.types import Document

log = logging.getLogger("rag.ingest.loaders")

SUPPORTED = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

# Share of control characters (other than ordinary whitespace) above which a
# decoded "text" is taken to be binary data.
_MAX_CONTROL_SHARE = 0.05
_TEXT_CONTROLS = frozenset("\n\r\t\f\v")


class CorpusError(Exception):
    """The corpus folder is missing, not a folder, or yields no readable document."""


class UnreadableFile(ValueError):
    """A file that cannot be turned into text; the message is the reason."""


# --------------------------------------------------------------------------- decoding


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    bad = sum(
        1
        for ch in text
        if ch == "\ufffd" or (ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc")
    )
    return bad / len(text) > _MAX_CONTROL_SHARE


_HAN_SAMPLE = 20_000  # Han characters looked at to tell the legacy encodings apart


def _common_share(text: str, codec: str) -> float:
    """The share of the text's Han characters that are common ones of the script the codec
    writes: GB2312's 6,763 for GB18030, Big5's level 1 (5,401, lead bytes A4–C6) for Big5.

    Big5 bytes read as GB18030 strictly decode (GB18030 accepts almost any byte pair), but
    about half of them land in GBK's rare extension rows; GB bytes read as Big5 land in
    Big5's rare level 2. Real text in either scores near 1 in its own codec.
    """
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"][:_HAN_SAMPLE]
    if not han:
        return 0.0
    common = 0
    for c in han:
        if codec == "gb18030":
            try:
                c.encode("gb2312")
            except UnicodeEncodeError:
                continue
            common += 1
        else:
            b = c.encode("big5hkscs", errors="ignore")
            common += len(b) == 2 and 0xA4 <= b[0] <= 0xC6
    return common / len(han)


def _legacy_chinese(data: bytes) -> tuple[str, str] | None:
    """``(text, encoding)`` for GB18030 or Big5 (-HKSCS) bytes, chosen by the evidence of
    :func:`_common_share` when both decode strictly (a tie goes to GB18030); None when
    neither does."""
    found = []
    for codec in ("gb18030", "big5", "big5hkscs"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec == "big5hkscs" and any(name.startswith("big5") for name, _, _ in found):
            continue  # plain Big5 decoded it: the same text
        found.append((codec, text, _common_share(text, codec)))
    if not found:
        return None
    codec, text, _ = max(found, key=lambda f: (f[2], f[0] == "gb18030"))
    return text, codec


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes to ``(text, encoding)`` with ``"\\n"`` line endings.

    Order: UTF-8 with BOM (BOM stripped), UTF-16 with BOM, strict UTF-8; then the legacy
    Chinese encodings by evidence — GB18030 (a superset of GBK/GB2312) or Big5/Big5-HKSCS,
    whichever reads as the common characters of its script (:func:`_common_share`; strict
    GB18030 alone would accept Big5 bytes and garble them); then charset-normalizer's best
    guess. Raises :class:`UnreadableFile` for binary data and for text that decodes only
    with replacement characters.

    >>> decode_bytes("中文\\r\\n".encode("gbk"))
    ('中文\\n', 'gb18030')
    >>> decode_bytes("臺灣的年平均雨量".encode("big5"))
    ('臺灣的年平均雨量', 'big5')
    """
    candidates: list[tuple[bytes, str, str]] = []  # (payload, codec, reported name)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates.append((data, "utf-16", "utf-16"))
    elif b"\x00" in data:
        raise UnreadableFile("binary data (contains NUL bytes)")
    elif data.startswith(codecs.BOM_UTF8):
        candidates.append((data[len(codecs.BOM_UTF8) :], "utf-8", "utf-8-sig"))
    candidates.append((data, "utf-8", "utf-8"))

    for payload, codec, label in candidates:
        try:
            text, name = payload.decode(codec), label
        except UnicodeDecodeError:
            continue
        break
    else:
        legacy = _legacy_chinese(data)
        if legacy is not None:
            text, name = legacy
        else:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
            if best is None:
                raise UnreadableFile("undecodable bytes (no text encoding fits)")
            text, name = str(best), best.encoding

    if _looks_binary(text):
        raise UnreadableFile(f"binary data (too many control characters as {name})")
    return _normalise_newlines(text), name


# --------------------------------------------------------------------------- formats

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _decode_html(data: bytes) -> tuple[str, str]:
    """Like :func:`decode_bytes`, but a declared ``<meta charset>`` beats the GB18030 guess."""
    match = _META_CHARSET.search(data[:4096])
    if match and b"\x00" not in data and not data.startswith(codecs.BOM_UTF8):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                codec = codecs.lookup(match.group(1).decode("ascii")).name
                codec = "gb18030" if codec in {"gbk", "gb2312"} else codec  # superset
                text = data.decode(codec)
            except (LookupError, UnicodeError):  # unknown or unusable codec ("undefined")
                pass
            else:
                if not _looks_binary(text):
                    return _normalise_newlines(text), codec
    return decode_bytes(data)


def _pdf_text(path: Path) -> str:
    import pdfplumber

    try:
        with pdfplumber.open(path) as pdf:
            pages = [page.extract_text() or "" for page in pdf.pages]
    except Exception as exc:  # pdfminer raises many unrelated types on bad input
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return _normalise_newlines("\n\n".join(pages))


_DOCX_HEADING = re.compile(r"(?:heading|标题)\s*([1-9])", re.I)


def _docx_text(path: Path) -> str:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    cells = [c.text.strip() for c in row.cells]
                    cells = [c for i, c in enumerate(cells) if c and c not in cells[:i]]
                    if cells:
                        blocks.append(" | ".join(cells))
                continue
            text = item.text.strip()
            if not text:
                continue
            style = item.style.name if item.style is not None else ""
            match = _DOCX_HEADING.fullmatch(style.strip())
            blocks.append(f"{'#' * int(match.group(1))} {text}" if match else text)
    except Exception as exc:  # bad zip, missing parts, broken XML, ...
        raise UnreadableFile(f"corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    return _normalise_newlines("\n\n".join(blocks))


# --------------------------------------------------------------------------- files


def source_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root``, with forward slashes."""
    return path.relative_to(root).as_posix()


def load_file(path: Path, root: Path) -> Document:
    """Read one supported file into a Document; raise :class:`UnreadableFile` if impossible.

    For PDF and DOCX the ``encoding`` field is the format name (the text is extracted,
    not decoded).
    """
    path, root = Path(path), Path(root)
    suffix = path.suffix.lower()
    kind = SUPPORTED.get(suffix)
    if kind is None:
        raise UnreadableFile(f"unsupported file type {suffix or '(no extension)'!r}")
    meta: dict[str, str] = {}
    if kind == "pdf":
        text, encoding = _pdf_text(path), "pdf"
    elif kind == "docx":
        text, encoding = _docx_text(path), "docx"
    else:
        data = path.read_bytes()
        if not data:
            raise UnreadableFile("empty file")
        if kind == "html":
            markup, encoding = _decode_html(data)
            page = read_page(markup)
            text, meta = page.text, page.meta
        else:
            text, encoding = decode_bytes(data)
    if not text.strip():
        raise UnreadableFile("no text (empty or whitespace only)")
    return Document(
        source=source_name(path, root), text=text, encoding=encoding, kind=kind, meta=meta
    )


def _check_root(root: Path) -> None:
    if not root.exists():
        raise CorpusError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise CorpusError(f"corpus path is not a folder: {root}")


def iter_corpus(root: Path) -> Iterator[Path]:
    """Every non-hidden file under ``root`` (recursively), sorted by relative path."""
    root = Path(root)
    _check_root(root)  # eagerly, so a bad root fails at the call
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder, f) for f in files if not f.startswith(".")]
    found = [p for p in found if p.is_file()]
    return iter(sorted(found, key=lambda p: source_name(p, root)))


def load_corpus(
    root: Path | str, *, on_skip: Callable[[str, str], None] | None = None
) -> list[Document]:
    """Load every readable file under ``root``; warn once for (and skip) each other file.

    Raises :class:`CorpusError` if ``root`` is missing, not a folder, or nothing loads.
    """
    root = Path(root)
    documents: list[Document] = []
    skipped = 0
    for path in iter_corpus(root):
        try:
            documents.append(load_file(path, root))
        except (UnreadableFile, OSError) as exc:
            source = source_name(path, root)
            reason = str(exc) or type(exc).__name__
            skipped += 1
            log.warning("skipping %s: %s", source, reason)
            if on_skip is not None:
                on_skip(source, reason)
    if not documents:
        if not skipped:
            raise CorpusError(f"no readable documents in {root}: the folder is empty")
        raise CorpusError(f"no readable documents in {root}: all {skipped} file(s) were skipped")
    return documents
