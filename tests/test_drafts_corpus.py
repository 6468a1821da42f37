"""The shared drafts corpus (../shared/corpus/drafts): whole papers and books, read end to end.

SOURCES.md there counts 138 cite commands and 146 distinct keys in the SciPy paper; a
line-by-line count misses `\\cite{mathworks-globe-97,` + `esri-revenue,bloom-wolfram}`, which
spans two lines (paper.tex:151). Read as LaTeX does, the paper has 139 commands and 147 keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citewise.bib.bibtex.reader import read_bib_file
from citewise.server.drafts.bibgen import generate_bib
from citewise.server.drafts.project import load_draft

DRAFTS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "drafts"

pytestmark = pytest.mark.skipif(not DRAFTS.is_dir(), reason="../shared/corpus/drafts is not present")


def test_scipy_paper_citations_and_bibliography():
    folder = DRAFTS / "scipy-articles" / "scipy-1.0"
    draft = load_draft(folder / "paper.tex")
    assert draft.errors == []
    assert len(draft.citations) == 139
    assert len(draft.cited_keys()) == 147
    assert sum(citation.command == "\\inlinecite" for citation in draft.citations) == 13
    assert {"mathworks-globe-97", "esri-revenue", "bloom-wolfram"} <= set(draft.cited_keys())
    commented_lines = {808, 1098, 1105}
    assert not [c for c in draft.citations if c.file.endswith("paper.tex") and c.line in commented_lines]
    assert draft.bib_files == [str(folder / "references.bib")]
    assert len(read_bib_file(folder / "references.bib").entries) == 183
    result = generate_bib([draft])
    assert result.missing_keys == []
    assert len(result.keys) == 147


def test_scipy_key_positions_point_at_the_keys():
    draft = load_draft(DRAFTS / "scipy-articles" / "scipy-1.0" / "paper.tex")
    lines = {path: Path(path).read_text(encoding="utf-8").splitlines() for path in draft.files}
    for citation in draft.citations:
        for use in citation.keys:
            assert lines[citation.file][use.line][use.col : use.end_col] == use.key


def test_coding_for_economists_cites_only_real_keys():
    folder = DRAFTS / "coding-for-economists"
    known = {entry.key for entry in read_bib_file(folder / "references.bib").entries}
    cited: set[str] = set()
    for chapter in sorted(folder.glob("*.qmd")):
        draft = load_draft(chapter)
        assert draft.bib_files == [str(folder / "references.bib")]
        assert draft.errors == []
        cited |= set(draft.cited_keys())
    assert cited == {
        "zinsser2006writing", "white1972elements", "hand2020dark", "nyhan2015checklist", "berk2017write",
        "nicholas2011quick", "ravuris2021skillful", "brauner2021inferring", "brown2022tradeoff", "bellemare2020write",
    }
    assert cited <= known


@pytest.mark.parametrize(
    "name, keys, missing",
    [
        ("paper.tex", ["Einstein1920", "Darwin1888"], []),
        ("paper2.tex", ["Darwin1888", "Einstein1920", "Newton1999"], []),
        ("unknown_key.tex", ["Darwin1888", "Einstein1920", "UnknownKey"], ["UnknownKey"]),
        ("crossref.tex", ["Einstein1920a", "Einstein1920b", "Einstein1920c", "UnresolvedKey"], ["Einstein1921", "UnresolvedKey"]),
        ("nested.tex", ["Einstein1920", "Darwin1888"], []),
        ("iso-8859-15.tex", ["anykey"], ["anykey"]),
    ],
)
def test_jabref_texparser_fixtures(name, keys, missing):
    draft = load_draft(DRAFTS / "jabref-texparser" / "texparser" / name)
    assert draft.cited_keys() == keys
    assert generate_bib([draft]).missing_keys == missing
