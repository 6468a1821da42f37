"""Minimal edits to a user's .bib text (files are written by `citewise.bib.files.write_atomically`).

Each function returns one `TextEdit` that touches nothing but what it means to change:
inserting an entry adds text at one point (in key order when the file is sorted by key,
at the end otherwise), updating replaces exactly the entry's span, renaming replaces exactly
the key. Applying the same edit again changes nothing more (idempotent).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from citewise.bib.bibtex.reader import BibEntry, scan_entries
from citewise.bib.bibtex.scan import BibLineIndex


@dataclass(frozen=True)
class TextEdit:
    """Replace text[start_offset:end_offset] with new_text; lines and columns are 0-based."""

    start_offset: int
    end_offset: int
    new_text: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int


def apply_edit(text: str, edit: TextEdit) -> str:
    return text[: edit.start_offset] + edit.new_text + text[edit.end_offset :]


def insert_entry_edit(bib_text: str, key: str, entry_text: str) -> TextEdit:
    """Add `entry_text` (the entry for `key`): in key order when the file's entries are sorted
    by key, else after the last entry, separated as the file separates its entries. When the
    key is already there, the edit updates that entry instead (nothing when it is the same)."""
    entries = scan_entries(bib_text)
    existing = _find(entries, key)
    if existing is not None:
        return _replace(bib_text, existing, entry_text)
    newline = "\r\n" if "\r\n" in bib_text else "\n"
    entry = _with_newlines(entry_text.strip(), newline)
    gap = _usual_gap(bib_text, entries, newline)
    if _sorted_by_key(entries):
        following = next((other for other in entries if other.key.lower() > key.lower()), None)
        if following is not None:
            return _edit(bib_text, following.span.start_offset, following.span.start_offset, entry + gap)
    if entries and not bib_text[entries[-1].span.end_offset :].strip():
        end = entries[-1].span.end_offset
        return _edit(bib_text, end, end, gap + entry)
    return _edit(bib_text, len(bib_text), len(bib_text), _separator_before_end(bib_text, gap, newline) + entry + newline)


def replace_entry_edit(bib_text: str, key: str, entry_text: str) -> TextEdit | None:
    """Replace exactly the span of the entry for `key`; None when the file has no such entry."""
    entry = _find(scan_entries(bib_text), key)
    return None if entry is None else _replace(bib_text, entry, entry_text)


def rename_key_edit(bib_text: str, old: str, new: str) -> TextEdit | None:
    """Replace exactly the key of entry `old` with `new`; None when the file has no such entry."""
    entry = _find(scan_entries(bib_text), old)
    if entry is None:
        return None
    return _edit(bib_text, entry.key_span.start_offset, entry.key_span.end_offset, new)


def _find(entries: list[BibEntry], key: str) -> BibEntry | None:
    return next((entry for entry in entries if entry.key == key), None) or next(
        (entry for entry in entries if entry.key.lower() == key.lower()), None
    )


def _replace(bib_text: str, entry: BibEntry, entry_text: str) -> TextEdit:
    newline = "\r\n" if "\r\n" in bib_text else "\n"
    return _edit(bib_text, entry.span.start_offset, entry.span.end_offset, _with_newlines(entry_text.strip(), newline))


def _edit(text: str, start: int, end: int, new_text: str) -> TextEdit:
    span = BibLineIndex(text).span(start, end)
    return TextEdit(start, end, new_text, span.start_line, span.start_col, span.end_line, span.end_col)


def _with_newlines(text: str, newline: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", newline)


def _sorted_by_key(entries: list[BibEntry]) -> bool:
    keys = [entry.key.lower() for entry in entries]
    return len(keys) >= 2 and all(first <= second for first, second in zip(keys, keys[1:]))


def _usual_gap(text: str, entries: list[BibEntry], newline: str) -> str:
    """The whitespace most often found between two entries; a blank line when there is none."""
    gaps = [text[first.span.end_offset : second.span.start_offset] for first, second in zip(entries, entries[1:])]
    gaps = [gap for gap in gaps if not gap.strip() and newline in gap]
    return collections.Counter(gaps).most_common(1)[0][0] if gaps else newline * 2


def _separator_before_end(text: str, gap: str, newline: str) -> str:
    """What goes between the end of `text` and an appended entry so the gap looks like `gap`."""
    if not text.strip():
        return ""
    trailing = text[len(text.rstrip()) :]
    if trailing.count(newline) >= gap.count(newline):
        return ""
    return newline * (gap.count(newline) - trailing.count(newline))
