"""The readers: format detection, each text format, directories, and bad input."""

from __future__ import annotations

import codecs
import json
import os
import shutil
from pathlib import Path

import pytest

from citewise.bib.errors import SourceError
from citewise.bib.readers import detect_format, read_path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "readers"
SEED_DIGEST = REPO / "examples" / "daily-papers-digest.txt"


def _only(result, attribute: str, value: str):
    matches = [ref for ref in result.references if getattr(ref, attribute) == value]
    assert len(matches) == 1, [getattr(ref, attribute) for ref in result.references]
    return matches[0]


# --- Daily Papers digest -------------------------------------------------------------------


def test_seed_digest_yields_its_75_papers_with_titles_and_abstracts():
    result = read_path(SEED_DIGEST)

    assert result.errors == []
    assert result.files == [str(SEED_DIGEST)]
    assert len(result.references) == 75
    titles = [ref.title for ref in result.references]
    assert titles[0] == "DPM-Solver-v3: Improved Diffusion ODE Solver with Empirical Model Statistics"
    assert titles[1] == "Score-Based Generative Modeling through Stochastic Differential Equations"
    assert titles[-1] == "TabPFN: A Transformer That Solves Small Tabular Classification Problems in a Second"
    assert len(set(titles)) == 75
    assert not {"new", "Subscribe", "Mar 14", "byAK and the research community"} & set(titles)


def test_seed_digest_abstracts_are_whole_paragraphs_under_the_right_title():
    result = read_path(SEED_DIGEST)
    lines = SEED_DIGEST.read_text(encoding="utf-8").split("\n")
    abstracts = {line for line in lines if len(line.split()) > 100}

    assert {ref.abstract for ref in result.references} == abstracts
    dpm = result.references[0]
    assert dpm.abstract.startswith("Diffusion probabilistic models (DPMs) have exhibited excellent performance")
    assert dpm.abstract.endswith("https://github.com/thu-ml/DPM-Solver-v3.")
    assert dpm.origin.source == str(SEED_DIGEST)
    assert lines[dpm.origin.line - 1] == dpm.title
    assert all(lines[ref.origin.line + 1] == ref.abstract for ref in result.references)


def test_seed_digest_references_get_unique_generated_keys():
    keys = [ref.key for ref in read_path(SEED_DIGEST).references]

    assert all(keys)
    assert len(set(keys)) == 75


def test_digest_chrome_is_skipped_and_a_second_paragraph_continues_the_abstract():
    result = read_path(FIXTURES / "digest-small.txt")

    assert result.errors == []
    assert [ref.title for ref in result.references] == [
        "Sparse Kernels for Fast Citation Recommendation",
        "Local-First Reference Managers",
        "Keys That Never Change: Stable Identifiers for Bibliographies",
    ]
    local_first = result.references[1]
    assert local_first.abstract.startswith("Reference managers keep their libraries")
    assert local_first.abstract.endswith("thirty researchers in three countries.")
    assert [ref.origin.line for ref in result.references] == [11, 15, 23]


def test_digest_abstract_without_a_title_is_reported_at_its_line(tmp_path):
    long_paragraph = " ".join(["word"] * 40) + "."
    digest = tmp_path / "digest.txt"
    digest.write_text(
        "byAK and the research community\n\n"
        f"A Proper Title\n\n{long_paragraph}\n\nMar 15\n\n{long_paragraph}\n",
        encoding="utf-8",
    )

    result = read_path(digest)

    assert [ref.title for ref in result.references] == ["A Proper Title"]
    assert [str(error) for error in result.errors] == [
        f"{digest}:9: abstract paragraph without a title line before it"
    ]


# --- BibTeX --------------------------------------------------------------------------------


def test_bibtex_keys_are_kept_and_a_broken_entry_is_reported_with_its_line():
    bib = FIXTURES / "bibtex-small.bib"

    result = read_path(bib)

    keys = [ref.key for ref in result.references]
    assert keys == ["Vaswani2017", "knuth:tex", "after-broken"]  # the unbalanced entry skipped, as BibTeX does
    vaswani = _only(result, "key", "Vaswani2017")
    assert vaswani.arxiv == "1706.03762"
    assert vaswani.origin.line == 3 and vaswani.origin.source == str(bib)
    assert result.errors and all(isinstance(error, SourceError) for error in result.errors)
    assert str(result.errors[0]).startswith(f"{bib}:19:")


# --- CSL-JSON ------------------------------------------------------------------------------


def test_csl_json_maps_types_names_dates_and_identifiers():
    result = read_path(FIXTURES / "csl-small.json")

    assert result.errors == []
    lecun = _only(result, "key", "lecun2015deep")
    assert lecun.entry_type == "article"
    assert [a.display() for a in lecun.authors] == ["LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey"]
    assert (lecun.year, lecun.date, lecun.journal) == ("2015", "2015-05-27", "Nature")
    assert (lecun.volume, lecun.number, lecun.pages) == ("521", "7553", "436-444")
    assert lecun.doi == "10.1038/nature14539"
    assert lecun.keywords == ["deep learning", "neural networks"]
    assert lecun.origin.line == 2

    paper = _only(result, "entry_type", "inproceedings")
    assert paper.title == "A Conference Paper With a Wrapped Title"
    assert paper.booktitle == "Proceedings of the Workshop on Examples" and paper.journal == ""
    assert paper.authors[0].family == "van Gogh"
    assert paper.editors[0].literal
    assert paper.year == "2019"
    assert paper.arxiv == "1901.00001"
    assert paper.key and "/" not in paper.key

    thesis = _only(result, "key", "doe2001thesis")
    assert thesis.entry_type == "phdthesis"
    assert thesis.institution == "University of Examples" and thesis.publisher == ""
    assert thesis.authors[0].literal and thesis.authors[0].family == "Jane Doe"
    assert thesis.abstract == "Short abstract with spaces."

    web = _only(result, "key", "web")
    assert (web.entry_type, web.year, web.date) == ("misc", "2020", "2020-07-01")


def test_malformed_csl_json_reports_file_and_line(tmp_path):
    broken = tmp_path / "library.json"
    broken.write_text(
        '[\n  {"id": "a", "type": "book", "title": "A"},\n  {"id": "b", "type": "book"\n   "title": "B"}\n]\n',
        encoding="utf-8",
    )

    result = read_path(broken)

    assert result.references == []
    assert len(result.errors) == 1
    assert result.errors[0].line == 4
    assert str(result.errors[0]).startswith(f"{broken}:4: malformed JSON")


# --- arXiv JSON Lines ----------------------------------------------------------------------


def test_arxiv_jsonl_records_become_misc_entries_with_arxiv_and_year():
    result = read_path(FIXTURES / "arxiv-small.jsonl")

    assert result.errors == []
    first = _only(result, "arxiv", "2310.13268")
    assert first.entry_type == "misc"
    assert first.title == "An Example Paper About Diffusion Solvers"
    assert first.abstract == "We describe an example. It spans two lines."
    assert (first.year, first.date) == ("2023", "2023-10")
    assert first.doi == "10.1234/example.2024"
    assert [a.family for a in first.authors] == ["Lovelace", "Babbage Jr"]
    assert first.extra_fields["primaryclass"] == "cs.LG"
    assert first.keywords == ["cs.LG", "stat.ML"]
    assert first.origin.line == 1
    assert _only(result, "arxiv", "hep-th/9901001").year == "1999"
    assert _only(result, "arxiv", "0704.0001").year == "2007"


def test_a_broken_jsonl_line_costs_only_that_line(tmp_path):
    lines = (FIXTURES / "arxiv-small.jsonl").read_text(encoding="utf-8").splitlines()
    jsonl = tmp_path / "snapshot.jsonl"
    jsonl.write_text("\n".join([lines[0], '{"id": "2401.00001", "title": "Cut', lines[1], "[1, 2]", lines[2]]) + "\n")

    result = read_path(jsonl)

    assert [ref.arxiv for ref in result.references] == ["2310.13268", "hep-th/9901001", "0704.0001"]
    assert [ref.origin.line for ref in result.references] == [1, 3, 5]
    assert [(error.line, error.message.split(":")[0]) for error in result.errors] == [
        (2, "malformed JSON"),
        (4, "not an arXiv record (no title)"),
    ]


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("digest-small.txt", "digest"),
        ("bibtex-small.bib", "bibtex"),
        ("csl-small.json", "csl-json"),
        ("arxiv-small.jsonl", "arxiv-jsonl"),
        ("zotero-web-api-items.json", "zotero-json"),
        ("zotero-web-api-item.json", "zotero-json"),
        ("bbt-export-arxiv.json", "zotero-json"),
    ],
)
def test_formats_are_detected_by_content_whatever_the_name(fixture, expected, tmp_path):
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    misnamed = tmp_path / "download.dat"
    misnamed.write_text(text, encoding="utf-8")

    assert detect_format(str(FIXTURES / fixture), text) == expected
    assert detect_format(str(misnamed), text) == expected
    assert read_path(misnamed).references


def test_sqlite_database_is_detected_from_its_header():
    head = (FIXTURES / "zotero.sqlite").read_bytes()[:100].decode("latin-1")

    assert detect_format("zotero.sqlite", head) == "zotero-sqlite"


def test_a_digest_without_page_chrome_is_detected_by_its_shape():
    abstract = "We describe a method. " * 12
    text = "".join(f"Paper Number {n}: A Title\n\n{abstract}\n\n" for n in range(3))
    text += f"One More Paper\n\n{abstract}\n\nIts abstract has a second paragraph. {abstract}\n"

    assert detect_format("papers.txt", text) == "digest"


@pytest.mark.parametrize(
    "text",
    [
        "MIT License\n\nCopyright (c) 2020 Someone\n\n"
        + "Permission is hereby granted, free of charge, to any person obtaining a copy\n" * 3
        + "\nTHE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED\n" * 3,
        "project:\n  type: book\n\nbook:\n  title: Notes\n" + "  chapter: " + "word " * 30 + "\n",
        "# Notes\n\nMy Draft\n\n" + "word " * 40 + "\n",
        "\\documentclass{article}\n\\begin{document}\nHello\n\\end{document}\n",
        '{"successful": {"0": {"key": "ABC"}}}',
        "",
    ],
)
def test_text_that_is_no_reference_format_is_not_detected(text):
    assert detect_format("notes.txt", text) is None


# --- files, directories, bad input ---------------------------------------------------------


def test_unknown_format_is_reported_not_fatal(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("remember to buy milk\n", encoding="utf-8")

    result = read_path(notes)

    assert result.references == [] and result.files == []
    assert len(result.errors) == 1
    assert str(result.errors[0]).startswith(f"{notes}: unknown format")


def test_binary_junk_is_reported(tmp_path):
    junk = tmp_path / "paper.bib"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))

    result = read_path(junk)

    assert result.references == []
    assert [str(error) for error in result.errors] == [f"{junk}: binary data, not a format citewise reads"]


def test_a_missing_path_is_reported(tmp_path):
    result = read_path(tmp_path / "nowhere.bib")

    assert [error.message for error in result.errors] == ["no such file or directory"]


def test_special_files_in_a_directory_are_reported_without_blocking(tmp_path):
    shutil.copy(FIXTURES / "csl-small.json", tmp_path / "export.json")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dangling.bib").symlink_to(tmp_path / "gone.bib")

    result = read_path(tmp_path)

    assert len(result.references) == 4
    assert sorted((Path(e.path).name, e.message) for e in result.errors) == [
        ("dangling.bib", "broken symlink"),
        ("pipe", "not a regular file (a FIFO)"),
    ]


def test_non_utf8_and_bom_marked_text_files_are_decoded(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"id": "muller", "type": "book", "title": "Über Müller"}]'.encode("cp1252"))
    bom = tmp_path / "bom.json"
    bom.write_bytes(codecs.BOM_UTF8 + '[{"id": "bom", "type": "book", "title": "Ça va"}]'.encode())
    utf16 = tmp_path / "digest-utf16.txt"
    utf16.write_bytes((FIXTURES / "digest-small.txt").read_text(encoding="utf-8").encode("utf-16"))

    assert [ref.title for ref in read_path(latin).references] == ["Über Müller"]
    assert [ref.title for ref in read_path(bom).references] == ["Ça va"]
    assert len(read_path(utf16).references) == 3


def _library_tree(root: Path) -> None:
    (root / "bib" / "nested").mkdir(parents=True)
    (root / ".git").mkdir()
    shutil.copy(FIXTURES / "bibtex-small.bib", root / "bib" / "refs.bib")
    shutil.copy(FIXTURES / "csl-small.json", root / "bib" / "nested" / "export.json")
    shutil.copy(FIXTURES / "arxiv-small.jsonl", root / "arxiv.jsonl")
    shutil.copy(FIXTURES / "digest-small.txt", root / "digest.txt")
    shutil.copy(FIXTURES / "digest-small.txt", root / "digest-copy.txt")
    shutil.copy(FIXTURES / "bbt-export-arxiv.json", root / "bib" / "nested" / "zotero.json")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "README").write_text("These are my papers.\n")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 20)


def test_a_directory_is_read_recursively_with_bad_files_reported(tmp_path):
    _library_tree(tmp_path)

    result = read_path(tmp_path)

    assert sorted(Path(f).relative_to(tmp_path).as_posix() for f in result.files) == [
        "arxiv.jsonl",
        "bib/nested/export.json",
        "bib/nested/zotero.json",
        "bib/refs.bib",
        "digest-copy.txt",
        "digest.txt",
    ]
    assert len(result.references) == 4 + 4 + 3 + 3 + 3 + 2  # refs.bib's unbalanced entry is skipped
    problems = {Path(error.path).name: error.message for error in result.errors if error.path.endswith(("README", ".jpg"))}
    assert problems["README"].startswith("unknown format")
    assert problems["photo.jpg"].startswith("binary data")
    assert not any(".git" in error.path for error in result.errors)


def test_every_reference_read_from_a_directory_has_a_key_and_an_origin(tmp_path):
    _library_tree(tmp_path)

    references = read_path(tmp_path).references

    assert all(ref.key and ref.origin and ref.origin.source for ref in references)
    generated = [ref.key for ref in references if ref.origin.source.endswith(("digest.txt", "digest-copy.txt"))]
    assert len(set(generated)) == 6
    assert all(ref.origin.line for ref in references)


def test_json_with_a_json_error_inside_a_zotero_export_names_the_line(tmp_path):
    export = json.loads((FIXTURES / "bbt-export-arxiv.json").read_text(encoding="utf-8"))
    text = json.dumps(export, indent=1).replace('"title": "Classical signature', '"title": Classical signature')
    broken = tmp_path / "export.json"
    broken.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.split("\n"), 1) if '"title": Classical' in row)

    result = read_path(broken)

    assert result.references == []
    assert [error.line for error in result.errors] == [line]


# --- the registry ----------------------------------------------------------------------------


def test_every_registered_format_is_detected_and_named_in_the_cli_help():
    import subprocess
    import sys

    from citewise.bib.readers import FORMATS

    samples = {"digest": "digest-small.txt", "bibtex": "bibtex-small.bib", "csl-json": "csl-small.json",
               "arxiv-jsonl": "arxiv-small.jsonl", "zotero-json": "zotero-web-api-items.json",
               "zotero-sqlite": "zotero.sqlite"}
    assert {f.name for f in FORMATS} == set(samples)
    for reader_format in FORMATS:
        head = (FIXTURES / samples[reader_format.name]).read_bytes()[:4096].decode("latin-1")
        assert detect_format("download.dat", head) == reader_format.name
        assert all(extension.startswith(".") for extension in reader_format.extensions)
    help_text = subprocess.run([sys.executable, "-m", "citewise", "index", "add", "--help"],
                               capture_output=True, text=True, check=True).stdout
    flat = " ".join(help_text.split())
    for reader_format in FORMATS:
        assert reader_format.description in flat
