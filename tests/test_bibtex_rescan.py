"""Re-reading a changed file reuses what lies outside the change, and gives exactly what a fresh read gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from citewise.bib.bibtex.reader import scan_entries
from citewise.bib.bibtex.rescan import ScanState, rescan
from citewise.bib.bibtex.scan import scan_blocks
from citewise.bib.files import decode

FIXTURES = Path(__file__).parent / "fixtures" / "bibtex"

SNIPPETS = ["@misc{new, title={N}}\n", "}", "{", "\n", "@", "% @article{x,\n", "x", '"', "@article{", "title = {A}},\n", ""]


def incremental(old: str, new: str):
    state = ScanState(old, scan_blocks(old), {entry.span.start_offset: entry for entry in scan_entries(old)})
    blocks, reuse = rescan(state, new)
    return blocks, reuse


def block_tuples(blocks):
    return [(b.kind, b.key, b.start, b.end, b.key_start, b.key_end, b.problem) for b in blocks]


@pytest.mark.parametrize("name", ["jabref/jabref-authors.bib", "jabref/complex.bib", "python-bibtexparser-v1/traps.bib"])
def test_random_edits_give_what_a_fresh_scan_gives(name):
    text = decode((FIXTURES / name).read_bytes()).text
    rnd = random.Random(name)
    for _ in range(60):
        start = rnd.randrange(len(text))
        end = min(len(text), start + rnd.choice([0, 0, 1, 5, 40, 400]))
        edited = text[:start] + rnd.choice(SNIPPETS) + text[end:]
        blocks, reuse = incremental(text, edited)
        assert block_tuples(blocks) == block_tuples(scan_blocks(edited))
        fresh = {entry.span.start_offset: entry for entry in scan_entries(edited)}
        for start_offset, (entry, lines, offset) in reuse.items():
            assert entry.raw == fresh[start_offset].raw
            assert entry.span.start_line + lines == fresh[start_offset].span.start_line
            assert entry.key_span.start_col == fresh[start_offset].key_span.start_col
            assert entry.span.start_offset + offset == start_offset


def test_one_changed_entry_in_the_middle_reuses_the_others():
    text = "".join(f"@misc{{k{i},\n  title = {{T{i}}}\n}}\n\n" for i in range(100))
    edited = text.replace("{T50}", "{T50 with\nmore lines}")
    blocks, reuse = incremental(text, edited)
    assert len(blocks) == 100
    assert len(reuse) == 99
    entry, lines, _ = reuse[edited.index("@misc{k51")]
    assert entry.key == "k51" and lines == 1


def test_unchanged_text_reuses_everything():
    text = "@misc{a}\n@misc{b}\n"
    blocks, reuse = incremental(text, text)
    assert len(reuse) == 2 and all(lines == 0 and offset == 0 for _, lines, offset in reuse.values())


def test_reader_re_read_matches_a_fresh_read(tmp_path, monkeypatch):
    from citewise.bib.bibtex.cache import FieldCache
    from citewise.bib.bibtex.reader import parse_bib_text

    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path))
    cache = FieldCache()
    text = decode((FIXTURES / "jabref" / "complex.bib").read_bytes()).text
    parse_bib_text(text, "same.bib", cache=cache)
    edited = text.replace("@", "@misc{dup, title={D}}\n@", 3).replace("}", "", 1)
    again = parse_bib_text(edited, "same.bib", cache=cache)
    fresh = parse_bib_text(edited, "other.bib", cache=cache)

    def summary(bib):
        entries = [(e.key, e.span, e.key_span, e.raw, e.fields) for e in bib.entries]
        return entries, [(error.line, error.message) for error in bib.errors]

    assert summary(again) == summary(fresh)
