"""The span scanner: finds every block of a .bib text and where it sits, without parsing fields.

It walks the text once, from `@` to `@`, counting braces the way BibTeX does, so its cost
is linear in the size of the file. It recognises entries delimited by braces or parentheses,
`@string`, `@preamble` and `@comment` blocks, entries that start right after another one's
closing brace, and junk between entries (ignored, as BibTeX ignores it). A line whose text
before the `@` holds a `%` is a commented-out entry and is skipped.

An entry whose braces never close is cut where the next line starting with `@type{` begins,
and reported, so one broken entry never costs the ones after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"[ \t\r\n]*([^\s,{}()\"#%=]*)[ \t\r\n]*([,=})]?)")
_RECOVERY_POINT = re.compile(r"\n[ \t]*@[A-Za-z]+[ \t]*[{(]")
_NEWLINE = re.compile(r"\r\n?|\n")
_ANY_BRACE = re.compile(r"[{}]")
_ANY_PAREN = re.compile(r"[()]")
_BRACE_WALK = re.compile(r"[{}]|\n[ \t]*@[A-Za-z]+[ \t]*[{(]")
_PAREN_WALK = re.compile(r"[{}()\"]|\n[ \t]*@[A-Za-z]+[ \t]*[{(]")


def _balanced_braces_pattern(levels: int) -> re.Pattern:
    """`{…}` with up to `levels` nested brace pairs inside, matched in linear time (possessive)."""
    inner = r"[^{}]*+"
    for _ in range(levels):
        inner = r"(?:[^{}]++|\{" + inner + r"\})*+"
    return re.compile(r"\{" + inner + r"\}")


_BALANCED = _balanced_braces_pattern(5)

SPECIAL_BLOCKS = ("string", "preamble", "comment")
KNOWN_ENTRY_TYPES = frozenset(
    """article book booklet inbook incollection inproceedings conference manual mastersthesis misc phdthesis
    proceedings techreport unpublished online thesis report dataset software patent periodical collection
    reference inreference mvbook mvcollection mvproceedings mvreference suppbook suppcollection
    suppperiodical bookinbook set xdata""".split()
)
"""BibTeX and BibLaTeX entry types: an `@type` of these without a brace is reported, other `@words` are junk."""

# `@type{` or `@type(`, or a known type or `@comment` alone; an `@word` in junk (an e-mail
# address) is skipped by the regular-expression engine itself.
_BLOCK_START = re.compile(
    r"@[ \t]*(?=[A-Za-z_])(?=[A-Za-z_][\w:.+-]*[ \t\r\n]*[{(]|(?i:"
    + "|".join(sorted(KNOWN_ENTRY_TYPES | set(SPECIAL_BLOCKS)))
    + r")(?![\w:.+-]))([A-Za-z_][\w:.+-]*)[ \t\r\n]*([{(])?"
)


@dataclass(slots=True)
class Span:
    """A range in a text: 0-based lines and columns (LSP style, in Python characters) and offsets."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int
    start_offset: int
    end_offset: int


@dataclass(slots=True)
class Block:
    """One `@…` block as found by the scanner.

    `kind` is "entry", "string", "preamble" or "comment"; `problem` is set when the block is
    broken (no key, braces never closed); `key` is empty for non-entries and keyless entries.
    """

    kind: str
    entry_type: str
    key: str
    start: int
    end: int
    key_start: int
    key_end: int
    problem: str = ""


class BibLineIndex:
    """Turns string offsets into (line, column), counting newlines only once per text."""

    def __init__(self, text: str):
        self._text = text
        self._newline = "\r" if "\n" not in text and "\r" in text else "\n"
        self._offset = 0
        self._line = 0
        self._line_start = 0

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column) of `offset`; moving forward costs only the text passed over."""
        text, newline = self._text, self._newline
        if offset >= self._offset:
            self._line += text.count(newline, self._offset, offset)
            last = text.rfind(newline, self._offset, offset)
            if last >= 0:
                self._line_start = last + 1
        else:
            self._line -= text.count(newline, offset, self._offset)
            self._line_start = text.rfind(newline, 0, offset) + 1
        self._offset = offset
        return self._line, offset - self._line_start

    def span(self, start: int, end: int) -> Span:
        start_line, start_col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(start_line, start_col, end_line, end_col, start, end)


def scan_blocks(text: str) -> list[Block]:
    """Every `@…` block of `text`, in file order."""
    return scan_until(text, 0, [])[0]


def scan_until(text: str, start: int, sync_points: list[int]) -> tuple[list[Block], int | None]:
    """Blocks from offset `start` on, stopping before the first block that starts at one of the
    (ascending) `sync_points`; that offset is returned too (None when the scan reached the end)."""
    blocks = []
    pos = start
    next_sync = 0
    comments = _CommentTracker(text, start)
    while True:
        candidate = _BLOCK_START.search(text, pos)
        if candidate is None:
            return blocks, None
        at = candidate.start()
        while next_sync < len(sync_points) and sync_points[next_sync] < at:
            next_sync += 1
        if next_sync < len(sync_points) and sync_points[next_sync] == at:
            return blocks, at
        if comments.commented_out(at, pos):
            pos = _line_end(text, at)
            continue
        block = _read_block(text, candidate)
        blocks.append(block)
        pos = max(block.end, at + 1)


class _CommentTracker:
    """Tells whether an `@` stands after a `%` on its line (outside blocks), looking at each
    character once however long the lines are."""

    def __init__(self, text: str, start: int):
        self._text = text
        self._searched = start
        self._line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
        self._percent = -1

    def commented_out(self, at: int, junk_start: int) -> bool:
        """`junk_start`: where the text outside blocks before `at` begins."""
        text = self._text
        newline = max(text.rfind("\n", self._searched, at), text.rfind("\r", self._searched, at))
        if newline >= 0:
            self._line_start = newline + 1
        self._searched = at
        percent = text.rfind("%", max(junk_start, self._line_start), at)
        if percent >= 0:
            self._percent = percent
        return self._percent >= self._line_start


def _line_end(text: str, pos: int) -> int:
    end = _NEWLINE.search(text, pos)
    return end.end() if end else len(text)


def _read_block(text: str, match: re.Match) -> Block:
    entry_type = match.group(1).lower()
    opener = match.group(2)
    at = match.start()
    kind = entry_type if entry_type in SPECIAL_BLOCKS else "entry"
    if opener is None:
        if kind == "comment":
            return Block("comment", entry_type, "", at, match.end(1), at, at)
        return Block(kind, entry_type, "", at, match.end(), at, at, f"@{match.group(1)} has no opening brace")
    body_start = match.end()
    if kind == "comment":
        return _read_comment(text, match)
    end, closed = _block_end(text, body_start, opener)
    problem = "" if closed else f"@{match.group(1)} is not closed: its braces are unbalanced"
    if kind != "entry":
        return Block(kind, entry_type, "", at, end, at, at, problem)
    key, key_start, key_end, has_key = _read_key(text, body_start, end)
    if not has_key and not problem:
        problem = f"@{match.group(1)} has no citation key"
    return Block("entry", entry_type, key if has_key else "", at, end, key_start, key_end, problem)


def _read_comment(text: str, match: re.Match) -> Block:
    """`@comment{…}` spans its balanced braces; unbalanced, only the word counts, as in BibTeX."""
    at = match.start()
    delimiters = _ANY_BRACE if match.group(2) == "{" else _ANY_PAREN
    depth = 0
    for delimiter in delimiters.finditer(text, match.end() - 1):
        depth += 1 if delimiter.group() in "{(" else -1
        if depth == 0:
            return Block("comment", "comment", "", at, delimiter.end(), at, at)
    return Block("comment", "comment", "", at, match.end(1), at, at)


def _block_end(text: str, body_start: int, opener: str) -> tuple[int, bool]:
    """Offset just past the block's closing delimiter, and whether it was found.

    The usual case (braces, nested at most a few levels, no line starting with `@type{`
    inside) is settled by one regular-expression match; anything else is walked brace by brace.
    """
    if opener == "{":
        match = _BALANCED.match(text, body_start - 1)
        if match and not _RECOVERY_POINT.search(text, body_start, match.end()):
            return match.end(), True
    depth = 1
    in_quotes = False
    walk = _BRACE_WALK if opener == "{" else _PAREN_WALK
    for match in walk.finditer(text, body_start):
        char = match.group()
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if opener == "{" and depth == 0:
                return match.end(), True
            depth = max(depth, 1)
        elif char == '"':
            if depth == 1:
                in_quotes = not in_quotes
        elif char == "(":
            continue
        elif char == ")":
            if depth == 1 and not in_quotes:
                return match.end(), True
        else:
            return match.start() + 1, False
    return len(text), False


def _read_key(text: str, body_start: int, end: int) -> tuple[str, int, int, bool]:
    match = _KEY.match(text, body_start, end)
    key = match.group(1)
    has_key = bool(key) and match.group(2) != "="
    return key, match.start(1), match.end(1), has_key
