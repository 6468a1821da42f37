"""Positions, edits and follow-up commands in LSP coordinates, and conversions to and from Python strings.

LSP counts columns in UTF-16 code units; Python indexes strings by code point. A
character outside the Basic Multilingual Plane (an emoji, a math letter such as 𝒜)
is one Python character but two UTF-16 units. `LspLineIndex` converts both ways and
clamps positions past the end of a line or file instead of failing.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Pos:
    """0-based line and UTF-16 column."""

    line: int
    col: int


@dataclass(frozen=True)
class Range:
    start: Pos
    end: Pos

    @staticmethod
    def of(start_line: int, start_col: int, end_line: int, end_col: int) -> Range:
        return Range(Pos(start_line, start_col), Pos(end_line, end_col))

    def contains(self, pos: Pos) -> bool:
        return self.start <= pos <= self.end


@dataclass(frozen=True)
class TextEdit:
    range: Range
    new_text: str


@dataclass(frozen=True)
class FileEdit:
    """One edit in a file other than the document being edited (for example a .bib)."""

    path: str
    range: Range
    new_text: str


@dataclass(frozen=True)
class Command:
    """A server command the client runs after applying an edit (for example the Zotero push)."""

    title: str
    name: str
    arguments: list


@dataclass(frozen=True)
class Location:
    path: str
    range: Range


def utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def utf16_to_index(line_text: str, col16: int) -> int:
    """The code-point index in `line_text` of UTF-16 column `col16` (clamped to the line)."""
    if col16 <= 0:
        return 0
    if line_text.isascii():
        return min(col16, len(line_text))
    units = 0
    for index, char in enumerate(line_text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > col16:
            return index
        if units == col16:
            return index + 1
    return len(line_text)


class LspLineIndex:
    """Line starts of one text, for offset <-> LSP position (UTF-16 columns) conversion, both ways.

    Not `DraftLineIndex` (drafts/textutil.py: the parser's offset -> code-point column) nor
    `BibLineIndex` (bib/bibtex/scan.py: offsets met in increasing order while scanning)."""

    def __init__(self, text: str):
        self.text = text
        starts = [0]
        position = text.find("\n")
        while position != -1:
            starts.append(position + 1)
            position = text.find("\n", position + 1)
        self.line_starts = starts
        self.ascii = text.isascii()

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_text(self, line: int) -> str:
        """The text of `line` without its line break; "" past the end."""
        if line < 0 or line >= len(self.line_starts):
            return ""
        start = self.line_starts[line]
        end = self.line_starts[line + 1] - 1 if line + 1 < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    def clamp(self, pos: Pos) -> Pos:
        """`pos` moved inside the text: past the last line -> end of file, past a line end -> line end."""
        if pos.line < 0:
            return Pos(0, 0)
        if pos.line >= self.line_count:
            last = self.line_count - 1
            return Pos(last, utf16_len(self.line_text(last)))
        return Pos(pos.line, max(0, min(pos.col, utf16_len(self.line_text(pos.line)))))

    def char_col(self, pos: Pos) -> tuple[int, int]:
        """(line, code-point column) of an LSP position, clamped."""
        pos = self.clamp(pos)
        return pos.line, utf16_to_index(self.line_text(pos.line), pos.col)

    def offset_of(self, pos: Pos) -> int:
        line, col = self.char_col(pos)
        return self.line_starts[line] + col

    def position_of(self, offset: int) -> Pos:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return self.lsp_pos(line, offset - self.line_starts[line])

    def lsp_pos(self, line: int, char_col: int) -> Pos:
        """The LSP position of code-point column `char_col` on `line`."""
        if self.ascii and 0 <= line < self.line_count and char_col >= 0:
            return Pos(line, char_col)
        if line >= self.line_count:
            return self.clamp(Pos(line, 0))
        line_text = self.line_text(line)
        char_col = max(0, min(char_col, len(line_text)))
        if line_text.isascii():
            return Pos(line, char_col)
        return Pos(line, utf16_len(line_text[:char_col]))

    def lsp_range(self, start_line: int, start_col: int, end_line: int, end_col: int) -> Range:
        """An LSP range from code-point line/column pairs (as parsers report them)."""
        return Range(self.lsp_pos(start_line, start_col), self.lsp_pos(end_line, end_col))

    def offset_range(self, start: int, end: int) -> Range:
        return Range(self.position_of(start), self.position_of(end))
