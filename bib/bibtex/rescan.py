"""Re-reading a file that changed in one place: what lies outside the change is not scanned again.

When the previous text of the same file is known, the blocks wholly before the changed
region keep their offsets and entries; the blocks after it keep their entries with lines
shifted; only the region between is scanned, until the scan meets one of the old blocks again.
"""

from __future__ import annotations

from dataclasses import dataclass

from citewise.bib.bibtex.scan import Block, Span, scan_until

_CHUNK = 65536


@dataclass
class ScanState:
    """What a read leaves for the next read of the same file."""

    text: str
    blocks: list[Block]
    entries: dict[int, object]
    """Entry by the start offset of its block (a reader's BibEntry)."""


Reuse = dict[int, tuple[object, int, int]]
"""New block start -> (previous entry, lines to add, offset to add) for entries outside the change."""


def rescan(previous: ScanState | None, text: str) -> tuple[list[Block], Reuse]:
    """Blocks of `text`, and the previous entries still valid for them."""
    if previous is None or _newline(previous.text) != _newline(text):
        return scan_until(text, 0, [])[0], {}
    old, old_blocks = previous.text, previous.blocks
    prefix = _common_prefix(old, text)
    if prefix == len(old) == len(text):
        return old_blocks, {start: (entry, 0, 0) for start, entry in previous.entries.items()}
    suffix = _common_suffix(old, text, min(len(old), len(text)) - prefix)
    old_end, delta = len(old) - suffix, len(text) - len(old)
    newline = _newline(text)

    before = 0
    while before < len(old_blocks) and old_blocks[before].end <= prefix and not old_blocks[before].problem:
        before += 1
    first_after = before
    while first_after < len(old_blocks) and not (
        old_blocks[first_after].start >= old_end and old.find(newline, old_end, old_blocks[first_after].start) >= 0
    ):
        first_after += 1
    resume = old_blocks[before - 1].end if before else 0
    middle, synced = scan_until(text, resume, [block.start + delta for block in old_blocks[first_after:]])

    blocks = old_blocks[:before] + middle
    reuse: Reuse = {}
    for block in old_blocks[:before]:
        if block.start in previous.entries:
            reuse[block.start] = (previous.entries[block.start], 0, 0)
    if synced is None:
        return blocks, reuse
    line_shift = text.count(newline, prefix, len(text) - suffix) - old.count(newline, prefix, old_end)
    for block in old_blocks[_index_of(old_blocks, first_after, synced - delta) :]:
        start = block.start + delta
        blocks.append(Block(block.kind, block.entry_type, block.key, start, block.end + delta, block.key_start + delta, block.key_end + delta, block.problem))
        if block.start in previous.entries:
            reuse[start] = (previous.entries[block.start], line_shift, delta)
    return blocks, reuse


def _index_of(blocks: list[Block], first: int, start: int) -> int:
    return next(index for index in range(first, len(blocks)) if blocks[index].start == start)


def shifted(span: Span, lines: int, offset: int) -> Span:
    """`span` moved down `lines` lines and `offset` characters (columns unchanged)."""
    if not lines and not offset:
        return span
    return Span(span.start_line + lines, span.start_col, span.end_line + lines, span.end_col,
                span.start_offset + offset, span.end_offset + offset)


def _newline(text: str) -> str:
    return "\r" if "\n" not in text and "\r" in text else "\n"


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, compared a chunk at a time."""
    limit = min(len(a), len(b))
    start = 0
    while start < limit and a[start : start + _CHUNK] == b[start : start + _CHUNK]:
        start += _CHUNK
    low, high = start, min(start + _CHUNK, limit)
    while low < high:
        middle = (low + high + 1) // 2
        if a[start:middle] == b[start:middle]:
            low = middle
        else:
            high = middle - 1
    return min(low, limit)


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix, at most `limit`."""
    length = 0
    while length < limit and a[len(a) - min(length + _CHUNK, limit) : len(a) - length] == b[len(b) - min(length + _CHUNK, limit) : len(b) - length]:
        length = min(length + _CHUNK, limit)
    low, high = length, min(length + _CHUNK, limit)
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle : len(a) - length] == b[len(b) - middle : len(b) - length]:
            low = middle
        else:
            high = middle - 1
    return low
