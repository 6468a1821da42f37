"""Fuzzing the .bib scanner and reader, and every reader in bib/readers/, on mutated real files
(tests/fixtures, plus ../shared/corpus/bibtex when it is there).

Properties: only the project's error type (CitewiseError, rendered `file:line: …`) ever
escapes; spans and lines stay inside the text; the incremental rescan of an edited .bib finds
exactly what a fresh scan finds.
"""

from __future__ import annotations

import io
import itertools
import re
import tempfile
from pathlib import Path

from fuzz_support import FIXTURES, SHARED, examples, mutated, read_texts
from hypothesis import given, settings
from hypothesis import strategies as st

from citewise.bib.bibtex.reader import parse_bib_text, scan_entries
from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.readers import FORMATS, read_path

BIB_FILES = [*FIXTURES.glob("bibtex/**/*.bib*"), *FIXTURES.glob("**/*.bib"), *SHARED.glob("corpus/bibtex/**/*.bib")]
BIB = read_texts(BIB_FILES, limit=20_000)
READER_INPUTS = read_texts([path for path in FIXTURES.glob("readers/*") if path.suffix != ".sqlite" and "LICENSE" not in path.name]
                           + [*FIXTURES.glob("bibtex/bbt_export_pairs/*.json")][:10], limit=20_000) + BIB[:20]
TEXT_READERS = [reader_format for reader_format in FORMATS if reader_format.name != "zotero-sqlite"]
_paths = itertools.count()


def check_entries(text: str, entries) -> None:
    for entry in entries:
        span = entry.span
        assert 0 <= span.start_offset <= span.end_offset <= len(text), entry.key
        assert text[span.start_offset:span.end_offset] == entry.raw
        assert text[entry.key_span.start_offset:entry.key_span.end_offset] == entry.key


def line_count(text: str) -> int:
    """Lines as the scanner and LSP count them: \r\n, \r and \n all end one."""
    return len(re.split(r"\r\n|\r|\n", text))


def check_errors(text: str, errors) -> None:
    lines = line_count(text)
    for error in errors:
        assert isinstance(error, SourceError), error
        assert error.line is None or 1 <= error.line <= lines + 1, error
        assert "\n" not in str(error).strip(), error


@settings(max_examples=examples(20))
@given(text=mutated(BIB))
def test_bib_reader_on_mutated_files(text):
    try:
        bib = parse_bib_text(text, "", wait=True)
    except CitewiseError:
        return
    check_entries(text, bib.entries)
    check_errors(text, bib.errors)
    assert [entry.key for entry in bib.entries] == [entry.key for entry in scan_entries(text)]


@settings(max_examples=examples(20))
@given(before=st.sampled_from(BIB), data=st.data())
def test_rescanning_an_edited_bib_finds_what_a_fresh_scan_finds(before, data):
    after = data.draw(mutated([before], max_mutations=3))
    path = f"/fuzz/edited-{next(_paths)}.bib"
    parse_bib_text(before, path, wait=False)
    rescanned = parse_bib_text(after, path, wait=False)
    fresh = scan_entries(after)
    assert [(e.key, e.entry_type, e.span) for e in rescanned.entries] == [(e.key, e.entry_type, e.span) for e in fresh]
    check_entries(after, rescanned.entries)


@settings(max_examples=examples(30))
@given(text=mutated(READER_INPUTS), reader=st.sampled_from(TEXT_READERS))
def test_every_reader_on_mutated_exports(text, reader):
    try:
        references, errors = _read_text(reader, text)
    except CitewiseError as error:
        assert "\n" not in str(error).strip()
        return
    check_errors(text, errors)
    lines = line_count(text)
    for reference in references:
        if reference.origin is not None and reference.origin.line is not None:
            assert 1 <= reference.origin.line <= lines + 1, reference.origin


def _read_text(reader, text: str) -> tuple[list, list]:
    """A format's references and problems in `text`: whole-text formats parse it, line formats stream its bytes."""
    if reader.stream is None:
        return reader.read("fuzz.input", text, {})
    found = [item for item, _offset, _line in reader.stream("fuzz.input", io.BytesIO(text.encode("utf-8", "surrogatepass")))]
    return ([item for item in found if not isinstance(item, SourceError)],
            [item for item in found if isinstance(item, SourceError)])


@settings(max_examples=examples(20))
@given(data=st.one_of(mutated(READER_INPUTS).map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=300)),
       suffix=st.sampled_from([".bib", ".json", ".jsonl", ".txt", ".csl", ""]))
def test_read_path_on_mutated_files_reports_problems_as_file_line(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"library{suffix}"
        path.write_bytes(data)
        result = read_path(path)
    check_errors(data.decode("utf-8", "replace"), result.errors)
    assert all(str(error).startswith(str(path)) for error in result.errors)
    assert all(reference.key for reference in result.references)


def test_an_entry_that_crossrefs_itself_is_reported_not_a_crash():
    """Found by the fuzzer: iterating the parent's fields while filling the same dict raised RuntimeError."""
    bib = parse_bib_text("@proceedings{p,\n  title = {T},\n  crossref = {p},\n}\n", "self.bib", wait=True)
    assert [entry.key for entry in bib.entries] == ["p"]
    assert [str(error) for error in bib.errors] == ["self.bib:1: entry 'p': crossref names the entry itself"]
