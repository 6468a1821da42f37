"""Reading .bib text: every syntax the scanner and bibtexparser must handle, spans, encodings, bad input."""

from __future__ import annotations

import codecs
import time

import pytest

from citewise.bib.bibtex.cache import FieldCache
from citewise.bib.bibtex.reader import entry_to_reference, parse_bib_text, read_bib_file, scan_entries
from citewise.bib.errors import SourceError


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))


def parse(text: str):
    return parse_bib_text(text, "refs.bib", cache=FieldCache(None))


def test_fields_macros_concatenation_and_spans():
    text = (
        "@string{ nips = \"Advances in Neural\" }\n"
        "@STRING( full = nips # \" Information Processing\" )\n"
        "@preamble{ \"\\newcommand{\\noop}[1]{}\" }\n"
        "\n"
        "@InProceedings{vaswani2017,\n"
        "  Title = {Attention is All you Need},\n"
        "  booktitle = full # { Systems},\n"
        "  month = jun, year = 2017\n"
        "}\n"
    )
    bib = parse(text)
    assert [entry.key for entry in bib.entries] == ["vaswani2017"]
    entry = bib.entries[0]
    assert entry.entry_type == "inproceedings"
    assert entry.fields["booktitle"] == "Advances in Neural Information Processing Systems"
    assert entry.fields["month"] == "June"
    assert entry.fields["year"] == "2017"
    assert bib.strings["full"] == "Advances in Neural Information Processing"
    assert bib.preambles == ["\\newcommand{\\noop}[1]{}"]
    assert (entry.span.start_line, entry.span.start_col, entry.span.end_line, entry.span.end_col) == (4, 0, 8, 1)
    assert text[entry.span.start_offset : entry.span.end_offset] == entry.raw
    assert entry.raw.startswith("@InProceedings") and entry.raw.endswith("}")
    assert (entry.key_span.start_line, entry.key_span.start_col, entry.key_span.end_col) == (4, 15, 26)
    assert bib.errors == []


def test_paren_delimiters_quotes_and_entries_on_one_line():
    text = '@misc(a, title = "A (quoted) {value}")@book{b, title={B}}  @article{c,title={C}}\n'
    entries = parse(text).entries
    assert [entry.key for entry in entries] == ["a", "b", "c"]
    assert entries[0].fields["title"] == "A (quoted) {value}"
    assert entries[1].span.start_col == text.index("@book")
    assert all(entry.span.start_line == 0 for entry in entries)


def test_comments_and_junk_are_skipped():
    text = (
        "Some junk {with {unbalanced braces between entries\n"
        "% @article{commented, title={no}}\n"
        "@comment{ @article{inside, title={no}} }\n"
        "@Comment jabref-meta: databaseType:bibtex;\n"
        "email me at someone@example.org\n"
        "@article{real, title = {Yes}}\n"
    )
    bib = parse(text)
    assert [entry.key for entry in bib.entries] == ["real"]
    assert bib.entries[0].span.start_line == 5
    assert bib.errors == []


def test_entry_type_without_brace_is_reported():
    bib = parse("@article title = x\n@misc{ok, title={T}}\n")
    assert [entry.key for entry in bib.entries] == ["ok"]
    assert [str(error) for error in bib.errors] == ["refs.bib:1: @article has no opening brace"]


def test_nested_braces_and_brace_inside_quoted_value():
    bib = parse('@article{k, title = {A {B {C {D {E {F}}}}} end}, note = "x {y} z"}\n@misc{next, title={N}}')
    assert bib.entries[0].fields["title"] == "A {B {C {D {E {F}}}}} end"
    assert bib.entries[0].fields["note"] == "x {y} z"
    assert [entry.key for entry in bib.entries] == ["k", "next"]


def test_crossref_fields_are_inherited():
    bib = parse(
        "@inproceedings{child, title={Child}, crossref={parent}, pages={1--2}}\n"
        "@proceedings{parent, title={The Proceedings}, year={1999}, publisher={ACM}}\n"
        "@inproceedings{orphan, title={O}, crossref={nowhere}}\n"
    )
    child = bib.entry("child")
    assert child.fields["booktitle"] == "The Proceedings"
    assert child.fields["year"] == "1999"
    assert child.fields["title"] == "Child"
    assert [error.line for error in bib.errors if "nowhere" in error.message] == [3]


def test_unbalanced_braces_cost_only_the_broken_entry():
    text = "@article{good1, title={One}}\n\n@article{broken,\n  title = {Never closed,\n  year = 2000\n\n@article{good2, title={Two}}\n"
    bib = parse(text)
    assert [entry.key for entry in bib.entries] == ["good1", "broken", "good2"]
    assert bib.entry("good2").fields["title"] == "Two"
    messages = [str(error) for error in bib.errors]
    assert any(message.startswith("refs.bib:3:") and "not closed" in message for message in messages)


def test_entry_without_key_and_duplicates_are_reported():
    bib = parse("@article{ title = {No key} }\n@misc{dup, title={1}}\n@misc{dup, title={2}}\n")
    assert [entry.fields["title"] for entry in bib.entries] == ["1", "2"]
    assert bib.duplicates == ["dup"]
    messages = [str(error) for error in bib.errors]
    assert "refs.bib:1: @article has no citation key" in messages
    assert any(message.startswith("refs.bib:3: duplicate key 'dup'") for message in messages)


def test_broken_fields_are_reported_with_line_and_others_survive():
    bib = parse("@misc{ok1, title={A}}\n@misc{bad, title={A} author={B}}\n@misc{ok2, title={C}}\n")
    assert bib.entry("ok2").fields == {"title": "C"}
    assert bib.entry("bad").fields == {}
    assert any(str(error).startswith("refs.bib:2: entry 'bad'") for error in bib.errors)


def test_undefined_macro_is_reported_and_expands_to_its_name():
    bib = parse("@misc{k, journal = jacm}")
    assert bib.entries[0].fields["journal"] == "jacm"
    assert "undefined @string 'jacm'" in str(bib.errors[0])


def test_biber_comments_and_annotation_fields_are_tolerated():
    bib = parse("@book{k,\n  author = {A. Author}, % who\n  author+an:username = {1=\"x\"},\n  title={T}\n}\n")
    assert bib.entries[0].fields["title"] == "T"
    assert bib.errors == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "@misc{k, title={Über}}".encode(), "Über"),
        ("@misc{k, title={Über}}".encode(), "Über"),
        (codecs.BOM_UTF16_LE + "@misc{k, title={Über}}".encode("utf-16-le"), "Über"),
        (codecs.BOM_UTF16_BE + "@misc{k, title={Über}}".encode("utf-16-be"), "Über"),
        ("@misc{k, title={Über}}".encode("latin-1"), "Über"),
        ("% Encoding: windows-1252\n@misc{k, title={Über – x}}".encode("cp1252"), "Über – x"),
    ],
)
def test_encodings(tmp_path, data, expected):
    path = tmp_path / "refs.bib"
    path.write_bytes(data)
    assert read_bib_file(path).entries[0].fields["title"] == expected


def test_old_mac_line_endings_give_lines():
    bib = parse("@misc{a, title={A}}\r\r% @misc{gone}\r@misc{b, title={B}}\r")
    assert [(entry.key, entry.span.start_line) for entry in bib.entries] == [("a", 0), ("b", 3)]


def test_binary_file_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "photo.bib"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(SourceError, match="photo.bib: binary data, not a BibTeX file"):
        read_bib_file(path)


def test_binary_junk_between_entries_is_skipped(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_bytes(b"@misc{a, title={A}}\n\x00\x01\x02\xff\xfe junk\n@misc{b, title={B}}\n")
    assert [entry.key for entry in read_bib_file(path).entries] == ["a", "b"]


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="absent.bib: no such file"):
        read_bib_file(tmp_path / "absent.bib")


def test_fifty_megabytes_with_an_unclosed_entry_does_not_hang(tmp_path):
    filler = ("lorem ipsum {dolor} sit amet " * 40 + "\n") * 43_500
    text = "@misc{first, title={F}}\n@article{open,\n  abstract = {" + filler + "\n@misc{last, title={L}}\n"
    assert len(text) > 50_000_000
    path = tmp_path / "big.bib"
    path.write_text(text)
    started = time.monotonic()
    bib = read_bib_file(path)
    assert time.monotonic() - started < 60
    assert [entry.key for entry in bib.entries] == ["first", "open", "last"]
    assert bib.entry("last").fields == {"title": "L"}
    assert any("not closed" in error.message for error in bib.errors)
    assert any("MB long" in error.message for error in bib.errors)


def test_scan_entries_gives_keys_and_spans_without_fields():
    entries = scan_entries("@misc{a, title={A}}\n@book{b, title={B}}")
    assert [(entry.key, entry.entry_type, entry.fields) for entry in entries] == [("a", "misc", {}), ("b", "book", {})]
    assert entries[1].span.start_line == 1


def test_fields_follow_in_the_background(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("".join(f"@misc{{k{i}, title={{Title {i}}}}}\n" for i in range(200)))
    bib = read_bib_file(path, wait=False, cache=FieldCache(tmp_path / "fresh"))
    assert len(bib.entries) == 200
    assert bib.wait_for_fields(timeout=60)
    assert bib.entry("k199").fields["title"] == "Title 199"


def test_entry_to_reference_reads_latex_names_and_ids():
    bib = parse(
        "@article{k,\n"
        "  author = {M{\\\"u}ller, J{\\\"u}rgen and Ludwig van Beethoven and {World Health Organization} and Smith, Jr, John},\n"
        "  title = {{BERT} for {\\'E}cole --- a study},\n"
        "  journal = {arXiv preprint arXiv:1810.04805},\n"
        "  doi = {https://doi.org/10.1000/ABC}, pages = {1--10}, year = {2019}, keywords = {nlp; bert},\n"
        "  issn = {1234}\n"
        "}"
    )
    ref = entry_to_reference(bib.entries[0], "refs.bib")
    assert [(a.family, a.given, a.literal) for a in ref.authors] == [
        ("Müller", "Jürgen", False),
        ("van Beethoven", "Ludwig", False),
        ("World Health Organization", "", True),
        ("Smith", "John", False),
    ]
    assert ref.title == "BERT for École — a study"
    assert ref.arxiv == "1810.04805"
    assert ref.doi == "10.1000/abc"
    assert ref.pages == "1-10"
    assert ref.keywords == ["nlp", "bert"]
    assert ref.extra_fields == {"issn": "1234"}
    assert (ref.origin.source, ref.origin.line) == ("refs.bib", 1)
