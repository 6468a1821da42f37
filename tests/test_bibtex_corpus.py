"""Real-world .bib files: every one reads without an exception, entry counts match what the
files' own projects expect, and edits on them leave every other byte alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citewise.bib.bibtex.cache import FieldCache
from citewise.bib.bibtex.edit import apply_edit, insert_entry_edit, rename_key_edit, replace_entry_edit
from citewise.bib.bibtex.reader import entry_to_reference, read_bib_file, scan_entries
from citewise.bib.errors import CitewiseError
from citewise.bib.files import decode

FIXTURES = Path(__file__).parent / "fixtures" / "bibtex"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "bibtex"

EXPECTED_COUNTS = {"Some bibtex entries quietly discarded on import from bib file #873.bib": 988}
"""Entries BBT imports where the fixture's .json is not copied (see fixtures/bibtex/SOURCES.md)."""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))


def bib_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.suffix in (".bib", ".txt") and path.parent.name != "bbt_export_pairs")


SHARED_MEMORY = FieldCache()
"""One cache for the module, so each real file's fields are parsed once however many tests read it."""


def read_all(root: Path) -> int:
    cache = SHARED_MEMORY
    for path in bib_files(root):
        try:
            bib = read_bib_file(path, cache=cache)
        except CitewiseError as error:
            pytest.fail(f"{path}: {error}")
        for entry in bib.entries:
            entry_to_reference(entry, str(path))
        for error in bib.errors:
            assert error.line and str(error).startswith(f"{path}:"), error
    return len(bib_files(root))


def test_every_fixture_file_reads():
    assert read_all(FIXTURES) >= 30


def test_every_shared_corpus_file_reads():
    if not SHARED.is_dir():
        pytest.skip("../shared/corpus/bibtex is not present")
    assert read_all(SHARED) >= 100


def expected_entry_counts(root: Path) -> list[tuple[Path, int]]:
    """(bib file, items BBT imports from it, notes excepted)."""
    pairs = []
    for path in sorted((root / "better-bibtex-import").glob("*.bib")):
        gold = path.with_suffix(".json")
        if gold.exists():
            items = json.loads(gold.read_text())["items"]
            pairs.append((path, sum(1 for item in items if item.get("itemType") != "note")))
        elif path.name in EXPECTED_COUNTS:
            pairs.append((path, EXPECTED_COUNTS[path.name]))
    return pairs


def entries_including_keyless(path: Path) -> int:
    bib = read_bib_file(path, cache=SHARED_MEMORY)
    return len(bib.entries) + sum(1 for error in bib.errors if "no citation key" in error.message)


@pytest.mark.parametrize("root", [FIXTURES, SHARED], ids=["fixtures", "shared"])
def test_entry_counts_match_better_bibtex(root):
    if not root.is_dir():
        pytest.skip(f"{root} is not present")
    pairs = expected_entry_counts(root)
    assert len(pairs) >= 8
    found = [(path.name, expected, entries_including_keyless(path)) for path, expected in pairs]
    assert [row for row in found if row[1] != row[2]] == []


def test_known_entry_counts_of_jabref_libraries():
    assert len(read_bib_file(FIXTURES / "jabref" / "jabref-authors.bib", cache=SHARED_MEMORY).entries) == 212
    assert len(read_bib_file(FIXTURES / "jabref" / "testjabref.bib", cache=SHARED_MEMORY).entries) == 156


def test_paren_delimited_strings_of_bbt_871():
    bib = read_bib_file(cache=SHARED_MEMORY, path=FIXTURES / "better-bibtex-import" / "Issues with round instead of curly braces do not import correctly #871.bib")
    assert bib.errors == []
    assert [entry.entry_type for entry in bib.entries] == ["techreport"]
    assert all(entry.fields.get("title") for entry in bib.entries)


REAL_FILES = ["jabref/jabref-authors.bib", "jabref/testjabref.bib", "jabref/complex.bib", "jabref/tiny-LE-withBOM.bib", "python-bibtexparser-v1/traps.bib"]
NEW_ENTRY = "@article{zzzNew2024,\n  author = {M{\\\"u}ller, Anna},\n  title = {A New Paper},\n  year = {2024}\n}\n"


def text_of(relative: str) -> str:
    return decode((FIXTURES / relative).read_bytes()).text


@pytest.mark.parametrize("relative", REAL_FILES)
def test_insert_touches_nothing_else_and_is_idempotent(relative):
    text = text_of(relative)
    edit = insert_entry_edit(text, "zzzNew2024", NEW_ENTRY)
    assert edit.start_offset == edit.end_offset
    edited = apply_edit(text, edit)
    assert edited[: edit.start_offset] == text[: edit.start_offset]
    assert edited[edit.start_offset + len(edit.new_text) :] == text[edit.start_offset :]
    again = apply_edit(edited, insert_entry_edit(edited, "zzzNew2024", NEW_ENTRY))
    assert again == edited
    assert "zzzNew2024" in [entry.key for entry in scan_entries(edited)]


@pytest.mark.parametrize("relative", REAL_FILES)
def test_replace_changes_exactly_the_entry_span(relative):
    text = text_of(relative)
    target = scan_entries(text)[-1]
    replacement = f"@misc{{{target.key},\n  title = {{Replaced}}\n}}\n"
    edit = replace_entry_edit(text, target.key, replacement)
    assert (edit.start_offset, edit.end_offset) == (target.span.start_offset, target.span.end_offset)
    edited = apply_edit(text, edit)
    assert edited[: edit.start_offset] == text[: edit.start_offset]
    assert edited.endswith(text[edit.end_offset :])
    assert apply_edit(edited, replace_entry_edit(edited, target.key, replacement)) == edited


def test_rename_changes_only_the_key():
    text = text_of("jabref/testjabref.bib")
    entry = scan_entries(text)[10]
    edit = rename_key_edit(text, entry.key, "renamedKey")
    assert text[edit.start_offset : edit.end_offset] == entry.key
    edited = apply_edit(text, edit)
    assert edited.replace("renamedKey", entry.key, 1) == text
