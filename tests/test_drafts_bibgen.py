"""generate_bib with the real BibTeX reader and a real SQLite index."""

from __future__ import annotations

from pathlib import Path

import pytest

from citewise.bib.index.store import Index
from citewise.bib.model import Author, Reference
from citewise.server.drafts.bibgen import generate_bib
from citewise.server.drafts.project import load_draft

FIXTURES = Path(__file__).parent / "fixtures" / "drafts"

LIBRARY = """% A library with macros, a preamble and cross references.
@preamble{ "\\newcommand{\\noop}[1]{}" }
@string{ieee = "IEEE"}
@string{pami = ieee # " Transactions on Pattern Analysis"}
@string{unused = "Never Used"}

@article{zeta2020,
  title = {Zeta},
  journal = pami,
  month = jan,
  year = 2020
}

@InCollection{alpha2019, crossref = {book2019}, title = {Alpha}, pages = {1--2}}

@book{book2019,
  title = {The Book},
  publisher = ieee,
  year = {2019}
}

@misc{uncited, title = {Not cited}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "paper"
    (root / ".git").mkdir(parents=True)
    write(root / "library.bib", LIBRARY)
    return root


def test_cited_entries_copied_verbatim_with_parents_strings_and_preamble(project):
    write(project / "main.tex", "\\cite{zeta2020, alpha2019, nowhere}\n\\bibliography{library}")
    result = generate_bib([load_draft(project / "main.tex")])
    assert result.keys == ["alpha2019", "zeta2020", "book2019"]
    assert result.missing_keys == ["nowhere"]
    assert result.text == (
        '@preamble{ "\\newcommand{\\noop}[1]{}" }\n\n'
        '@string{ieee = "IEEE"}\n\n'
        '@string{pami = ieee # " Transactions on Pattern Analysis"}\n\n'
        "@InCollection{alpha2019, crossref = {book2019}, title = {Alpha}, pages = {1--2}}\n\n"
        "@article{zeta2020,\n  title = {Zeta},\n  journal = pami,\n  month = jan,\n  year = 2020\n}\n\n"
        "@book{book2019,\n  title = {The Book},\n  publisher = ieee,\n  year = {2019}\n}\n"
    )
    assert result.sources["zeta2020"] == str(project / "library.bib")


def test_output_is_deterministic_whatever_the_citation_order(project):
    write(project / "a.tex", "\\cite{zeta2020}\\cite{alpha2019}\\bibliography{library}")
    write(project / "b.tex", "\\cite{alpha2019,zeta2020}\\bibliography{library}")
    first = generate_bib([load_draft(project / "a.tex")]).text
    assert generate_bib([load_draft(project / "b.tex")]).text == first
    assert generate_bib([load_draft(project / "a.tex")]).text == first


def test_declared_files_win_over_extra_files_which_win_over_the_index(project, tmp_path):
    write(project / "main.md", "---\nbibliography: library.bib\n---\n[@zeta2020; @extra; @indexed; @gone]\n")
    extra = write(tmp_path / "extra.bib", "@misc{zeta2020, title = {Shadowed}}\n@misc{extra, title = {Extra}}\n")
    with Index.open(tmp_path / "index.sqlite") as index:
        index.upsert(Reference(key="indexed", entry_type="article", title="Indexed Paper", authors=[Author("Ho", "Jo")], year="2020", journal="J"))
        index.upsert(Reference(key="extra", entry_type="article", title="Not This", year="1999"))
        result = generate_bib([load_draft(project / "main.md")], [extra], index)
    assert result.sources == {"extra": str(extra), "indexed": "index", "zeta2020": str(project / "library.bib")}
    assert "Shadowed" not in result.text and "Not This" not in result.text
    assert "@article{indexed,\n  author = {Ho, Jo},\n  title = {Indexed Paper}," in result.text
    assert result.missing_keys == ["gone"]


def test_whole_index_export(project, tmp_path):
    write(project / "main.tex", "\\cite{zeta2020}\\bibliography{library}")
    with Index.open(tmp_path / "index.sqlite") as index:
        for key in ("b2", "a1"):
            index.upsert(Reference(key=key, entry_type="misc", title=f"Paper {key}", year="2021"))
        result = generate_bib([load_draft(project / "main.tex")], (), index, include_index=True)
    assert result.keys == ["a1", "b2", "zeta2020"]
    assert result.missing_keys == []


def test_nocite_star_brings_every_declared_entry(project):
    write(project / "main.tex", "\\nocite{*}\\bibliography{library}")
    result = generate_bib([load_draft(project / "main.tex")])
    assert result.keys == ["alpha2019", "uncited", "zeta2020", "book2019"]


def test_keys_match_case_insensitively_and_keep_the_bib_spelling(project):
    write(project / "main.tex", "\\cite{ZETA2020}\\bibliography{library}")
    result = generate_bib([load_draft(project / "main.tex")])
    assert result.keys == ["zeta2020"] and result.missing_keys == []


def test_missing_and_binary_bibliographies_become_warnings(project):
    (project / "junk.bib").write_bytes(b"\x00\x01\x02\x03" * 1000)
    write(project / "main.tex", "\\cite{zeta2020}\\bibliography{missing,junk,library}")
    result = generate_bib([load_draft(project / "main.tex")])
    assert result.keys == ["zeta2020"]
    assert result.warnings == [f"{project / 'missing.bib'}: bibliography not found", f"{project / 'junk.bib'}: binary data, not a BibTeX file"]


def test_crossref_parent_that_is_nowhere_is_reported_missing():
    result = generate_bib([load_draft(FIXTURES / "jabref" / "crossref.tex")])
    assert result.keys == ["Einstein1920a", "Einstein1920b", "Einstein1920c", "Einstein1920"]
    assert result.missing_keys == ["Einstein1921", "UnresolvedKey"]


def test_scipy_fixture_resolves_every_key_from_its_bib():
    draft = load_draft(FIXTURES / "scipy" / "main.tex")
    result = generate_bib([draft])
    assert result.missing_keys == []
    assert sorted(result.keys, key=str.lower) == sorted(draft.cited_keys(), key=str.lower)
    source = (FIXTURES / "scipy" / "references.bib").read_text(encoding="utf-8")
    assert all(block.strip() in source for block in result.text.split("\n\n@"))


def test_nothing_cited_gives_empty_text(project):
    write(project / "main.tex", "No citations.\\bibliography{library}")
    assert generate_bib([load_draft(project / "main.tex")]).text == ""


def test_unusable_bibliography_paths_become_warnings(project):
    write(project / "main.tex", "\\cite{zeta2020}\\bibliography{library}")
    long_name = "x" * 5000 + ".bib"
    result = generate_bib([load_draft(project / "main.tex")], [long_name, "a\x00b.bib", str(project)])
    assert result.keys == ["zeta2020"]
    assert len(result.warnings) == 3
    assert result.warnings[0].endswith("…: not a usable file name (too long)") and len(result.warnings[0]) < 200
    assert result.warnings[1].endswith("not a usable file name")
    assert result.warnings[2] == f"{project}: not a regular file (a directory)"
