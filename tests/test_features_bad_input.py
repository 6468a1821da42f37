"""Bad input never raises from a feature: binary text, huge drafts, broken braces, odd positions."""

from __future__ import annotations

import os

import pytest
from features_support import build_index, make_workspace, open_file

from citewise.server.drafts.uris import path_to_uri
from citewise.server.features import actions, completion, hover, navigation, suggestions
from citewise.server.features.diagnostics import diagnostics
from citewise.server.features.positions import Pos, Range


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    return build_index(tmp_path_factory.mktemp("bad-index") / "index.sqlite")


@pytest.fixture
def ws(tmp_path, index_path):
    return make_workspace(tmp_path, index_path, claim_hints=True)


def _everything(ws, uri: str, pos: Pos) -> dict:
    """Run every position-based feature once; any exception fails the test."""
    return {
        "completion": completion.complete(ws, uri, pos),
        "resolve": completion.documentation(ws, uri, "vaswaniAttentionAllYou2017"),
        "suggest": suggestions.suggest(ws, uri, pos),
        "hover": hover.hover(ws, uri, pos),
        "definition": navigation.definition(ws, uri, pos),
        "references": navigation.references(ws, uri, pos),
        "diagnostics": diagnostics(ws, uri),
        "actions": actions.code_actions(ws, uri, Range(pos, pos), []),
    }


POSITIONS = [Pos(0, 0), Pos(0, 10_000), Pos(3, 2), Pos(10_000, 0), Pos(10_000, 10_000), Pos(-1, -1)]


def test_binary_data_opened_as_latex(ws, tmp_path):
    data = bytes(range(256)) * 64 + b"\\cite{" + os.urandom(2048)
    path = tmp_path / "binary.tex"
    path.write_bytes(data)
    uri = open_file(ws, path, data.decode("latin-1"))
    for pos in POSITIONS:
        results = _everything(ws, uri, pos)
        assert isinstance(results["completion"], list)


def test_invalid_utf8_on_disk_is_read_with_replacement(ws, tmp_path):
    path = tmp_path / "latin.tex"
    path.write_bytes(b"Caf\xe9 na\xefve \\cite{vaswaniAttentionAllYou2017}.\n\\bibliography{refs}\n")
    uri = path_to_uri(str(path))
    assert hover.hover(ws, uri, Pos(0, 25)).markdown.startswith("**Attention Is All You Need**")
    assert diagnostics(ws, uri) == []


def test_unbalanced_braces_and_a_cite_that_never_closes(ws, tmp_path):
    text = "}}}{{{ \\cite{a \\cite{b}} }}\n\\textbf{\\emph{\n\\bibliography{refs}\nlast words \\cite{vasw"
    path = tmp_path / "braces.tex"
    path.write_text(text)
    uri = open_file(ws, path)
    for pos in POSITIONS:
        _everything(ws, uri, pos)
    at_end = completion.complete(ws, uri, Pos(3, len("last words \\cite{vasw")))
    assert at_end and at_end[0].key == "vaswaniAttentionAllYou2017"


def test_a_ten_megabyte_draft_answers(ws, tmp_path):
    paragraph = ("Recent work has shown that attention helps 30\\% of the time \\cite{vaswaniAttentionAllYou2017}. "
                 "Diffusion models generate images. ") * 8 + "\n\n"
    text = paragraph * (10_000_000 // len(paragraph)) + "\\bibliography{refs}\nAnd finally \\cite{"
    assert len(text) >= 9_900_000
    path = tmp_path / "huge.tex"
    path.write_text(text)
    uri = open_file(ws, path)
    last = text.count("\n")
    results = _everything(ws, uri, Pos(last, len("And finally \\cite{")))
    assert results["completion"][0].in_bib
    middle = _everything(ws, uri, Pos(last // 2, 70))
    assert middle["hover"] is None or "Attention" in middle["hover"].markdown
    assert len([p for p in results["diagnostics"] if p.code == "claim-without-citation"]) <= 200


def test_a_binary_bib_is_an_error_not_a_crash(ws, tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_bytes(b"\x00\x01\x02" * 5000)
    draft = tmp_path / "paper.tex"
    uri = open_file(ws, draft)
    assert {p.code for p in diagnostics(ws, uri)} == {"undefined-key"}  # the unreadable .bib defines nothing
    problems = diagnostics(ws, path_to_uri(str(bib)))
    assert [p.code for p in problems] == ["bib-syntax"] and "binary" in problems[0].message


def test_documents_that_are_neither_drafts_nor_bibs_and_unknown_uris(ws, tmp_path):
    (tmp_path / "notes.txt").write_text("\\cite{x}")
    for uri in (path_to_uri(str(tmp_path / "notes.txt")), path_to_uri(str(tmp_path / "absent.tex")), "untitled:1"):
        results = _everything(ws, uri, Pos(0, 7))
        assert results["completion"] == [] and results["hover"] is None and results["diagnostics"] == []
