"""Incremental edits to open documents (server/lsp/text_sync.py) land where the LSP says, in UTF-16 columns."""

from __future__ import annotations

import random

from lsprotocol import types

from citewise.server.lsp.text_sync import LineDocument

LINES = ["plain ascii line\n", "caf\u00e9 na\u00efve\r\n", "math \U0001d49c and emoji \U0001f600 here\n", "\n", "last line"]


def _change(start: tuple[int, int], end: tuple[int, int], text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(line=start[0], character=start[1]),
                          end=types.Position(line=end[0], character=end[1])), text=text)


def _offset(text: str, line: int, character: int) -> int:
    """The reference: the string index of an LSP position, counted in UTF-16 units over the whole text
    (a column inside a character's two units points before it)."""
    lines = text.splitlines(True)
    if line >= len(lines):
        return len(text)
    start = sum(len(earlier) for earlier in lines[:line])
    content = lines[line].rstrip("\r\n")
    units = 0
    for index, char in enumerate(content):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > character:
            return start + index
    return start + len(content)


def _apply(text: str, change: types.TextDocumentContentChangePartial) -> str:
    start = _offset(text, change.range.start.line, change.range.start.character)
    end = _offset(text, change.range.end.line, change.range.end.character)
    return text[:start] + change.text + text[end:]


def test_an_edit_after_a_character_outside_the_bmp_counts_it_as_two_units():
    document = LineDocument("file:///d.tex", source="".join(LINES))
    column = len("math \U0001d49c") + 1  # the math letter is two UTF-16 units
    document.apply_change(_change((2, column), (2, column + len(" and")), " or"))
    assert document.source.splitlines(True)[2] == "math \U0001d49c or emoji \U0001f600 here\n"


def test_columns_past_a_line_end_stop_before_its_break_and_lines_past_the_end_append():
    document = LineDocument("file:///d.tex", source="ab\r\ncd\n")
    document.apply_change(_change((0, 99), (0, 99), "!"))
    document.apply_change(_change((5, 0), (7, 3), "tail"))
    assert document.source == "ab!\r\ncd\ntail"


def test_random_edits_match_a_whole_text_reference():
    rng = random.Random(17)
    reference = "".join(LINES)
    document = LineDocument("file:///d.tex", source=reference)
    for _ in range(400):
        lines = reference.splitlines(True) or [""]
        a = (rng.randrange(len(lines) + 1), rng.randrange(30))
        b = (rng.randrange(len(lines) + 1), rng.randrange(30))
        start, end = sorted([a, b])
        if _offset(reference, *start) > _offset(reference, *end):
            end = start
        text = rng.choice(["", "x", "\u00e9", "\U0001f600", "two\nlines", "\r\n", "word "])
        change = _change(start, end, text)
        reference = _apply(reference, change)
        document.apply_change(change)
        assert document.source == reference
