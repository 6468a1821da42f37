"""Small text helpers shared by the draft parsers: positions and blanking."""

from __future__ import annotations

import bisect
import re

_NOT_LINE_BREAK = re.compile(r"[^\n]")
_LINE_BREAK = re.compile("\n")


class DraftLineIndex:
    """Offset -> (line, code-point column), both 0-based, for the draft parser (the language
    server turns these into UTF-16 positions with `LspLineIndex`)."""

    def __init__(self, text: str):
        self.line_starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return line, offset - self.line_starts[line]

    def offset(self, line: int, col: int) -> int:
        """The offset of (line, col), clamped to the text's lines."""
        line = min(max(line, 0), len(self.line_starts) - 1)
        return self.line_starts[line] + max(col, 0)


def blank(text: str) -> str:
    """The same text with every character but line breaks turned into a space."""
    return _NOT_LINE_BREAK.sub(" ", text)


def blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the given (start, end) spans blanked; spans must be sorted and disjoint."""
    pieces: list[str] = []
    kept_from = 0
    for start, end in spans:
        if start < kept_from or end <= start:
            continue
        pieces.append(text[kept_from:start])
        pieces.append(blank(text[start:end]))
        kept_from = end
    pieces.append(text[kept_from:])
    return "".join(pieces)
