"""Text with a map back to the original characters, and the CJK character tests.

Every character of a :class:`MappedText` remembers its offset in the original string, so a
span of cleaned or converted text maps back to the exact original text a citation quotes.

>>> mt = MappedText("ab", (0, 2))
>>> mt.span(0, 2)
(0, 3)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def is_cjk_punct(ch: str) -> bool:
    o = ord(ch)
    return 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or ch in "“”‘’…—·"


@dataclass(frozen=True)
class MappedText:
    """Text plus, for each character, its offset in the original string."""

    text: str
    offsets: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.text) != len(self.offsets):
            raise ValueError("text and offsets differ in length")

    def __len__(self) -> int:
        return len(self.text)

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original [start, end) of the cleaned span [i, j)."""
        if not self.offsets:
            return 0, 0
        if j <= i:
            k = min(i, len(self.offsets) - 1)
            return self.offsets[k], self.offsets[k]
        return self.offsets[i], self.offsets[j - 1] + 1

    def __getitem__(self, s: slice) -> MappedText:
        return MappedText(self.text[s], self.offsets[s])

    @staticmethod
    def join(parts: Iterable[MappedText]) -> MappedText:
        text, offs = [], []
        for p in parts:
            text.append(p.text)
            offs.extend(p.offsets)
        return MappedText("".join(text), tuple(offs))
