"""Hover, definition, references, rename, symbols and diagnostics on real drafts and .bib files."""

from __future__ import annotations

import time

import pytest
from features_support import apply_to_files, build_index, make_workspace, open_file, position_of

from citewise.bib.errors import CitewiseError
from citewise.server.features import actions, hover, navigation
from citewise.server.features.diagnostics import diagnostics
from citewise.server.features.positions import Pos, Range
from citewise.server.features.workspace import path_to_uri


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    return build_index(tmp_path_factory.mktemp("nav-index") / "index.sqlite")


@pytest.fixture
def ws(tmp_path, index_path):
    return make_workspace(tmp_path, index_path)


def _paper(ws, tmp_path):
    text = (tmp_path / "paper.tex").read_text()
    return open_file(ws, tmp_path / "paper.tex"), text


# --- hover ---------------------------------------------------------------------------------


def test_hover_shows_the_reference_card(ws, tmp_path):
    uri, text = _paper(ws, tmp_path)
    info = hover.hover(ws, uri, position_of(text, "vaswaniAttention", 3))
    assert info.markdown.startswith("**Attention Is All You Need**")
    for part in ("Ashish Vaswani", "*Advances in Neural Information Processing Systems* · 2017",
                 "[arXiv:1706.03762](https://arxiv.org/abs/1706.03762)", "The dominant sequence transduction"):
        assert part in info.markdown
    assert info.range == Range(Pos(2, 59), Pos(2, 85))


def test_hover_links_the_doi_and_counts_columns_after_a_non_bmp_character(ws, tmp_path):
    uri, text = _paper(ws, tmp_path)
    position = position_of(text, "heDeepResidual", 2)
    assert position.col == text.splitlines()[4].index("heDeep") + 3  # 𝒜 is two UTF-16 units
    info = hover.hover(ws, uri, position)
    assert "[doi:10.1109/cvpr.2016.90](https://doi.org/10.1109/cvpr.2016.90)" in info.markdown


def test_hover_on_an_undefined_key_names_the_closest_keys(ws, tmp_path):
    text = "\\cite{vaswaniAttentionAllYou2018}\n\\bibliography{refs}\n"
    (tmp_path / "typo.tex").write_text(text)
    uri = open_file(ws, tmp_path / "typo.tex")
    info = hover.hover(ws, uri, Pos(0, 10))
    assert "**Undefined key** `vaswaniAttentionAllYou2018`" in info.markdown
    assert "`vaswaniAttentionAllYou2017`" in info.markdown


def test_hover_outside_a_key_is_empty(ws, tmp_path):
    uri, _ = _paper(ws, tmp_path)
    assert hover.hover(ws, uri, Pos(0, 3)) is None


# --- navigation ----------------------------------------------------------------------------


def test_definition_jumps_to_the_entry(ws, tmp_path):
    uri, text = _paper(ws, tmp_path)
    [location] = navigation.definition(ws, uri, position_of(text, "hoDenoising", 1))
    bib_lines = (tmp_path / "refs.bib").read_text().splitlines()
    assert location.path == str(tmp_path / "refs.bib")
    assert bib_lines[location.range.start.line].startswith("@inproceedings{hoDenoisingDiffusionProbabilistic2020,")


def test_references_cover_every_draft_and_the_bib(ws, tmp_path):
    uri, text = _paper(ws, tmp_path)
    found = navigation.references(ws, uri, position_of(text, "vaswaniAttention", 1))
    assert sorted(location.path.rsplit("/", 1)[1] for location in found) == ["notes.md", "paper.tex", "refs.bib"]
    without = navigation.references(ws, uri, position_of(text, "vaswaniAttention", 1), include_declaration=False)
    assert len(without) == 2


def test_rename_edits_drafts_and_bib_as_one_set(ws, tmp_path):
    uri, text = _paper(ws, tmp_path)
    position = position_of(text, "vaswaniAttention", 1)
    assert navigation.prepare_rename(ws, uri, position) == Range(Pos(2, 59), Pos(2, 85))
    edits = navigation.rename(ws, uri, position, "vaswani2017")
    assert sorted(path.rsplit("/", 1)[1] for path in edits) == ["notes.md", "paper.tex", "refs.bib"]
    apply_to_files(edits)
    for name in ("notes.md", "paper.tex", "refs.bib"):
        content = (tmp_path / name).read_text()
        assert "vaswaniAttentionAllYou2017" not in content and "vaswani2017" in content
    assert "@inproceedings{vaswani2017,\n  title = {Attention Is All You Need}" in (tmp_path / "refs.bib").read_text()


def test_rename_refuses_a_taken_or_malformed_key(ws, tmp_path):
    uri, text = _paper(ws, tmp_path)
    position = position_of(text, "vaswaniAttention", 1)
    with pytest.raises(CitewiseError, match="already has an entry"):
        navigation.rename(ws, uri, position, "heDeepResidualLearning2016")
    with pytest.raises(CitewiseError, match="not a valid citation key"):
        navigation.rename(ws, uri, position, "two words")


def test_bib_symbols_list_entries_with_key_ranges(ws, tmp_path):
    bib_uri = open_file(ws, tmp_path / "refs.bib")
    symbols = navigation.bib_symbols(ws, bib_uri)
    assert [s.name for s in symbols][:2] == ["vaswaniAttentionAllYou2017", "devlinBERTPretrainingDeep2019"]
    assert symbols[0].detail == "@inproceedings · Attention Is All You Need"
    assert symbols[0].selection == Range(Pos(0, 15), Pos(0, 41))


def test_workspace_symbols_search_the_index(ws, tmp_path):
    symbols = navigation.workspace_symbols(ws, "diffusion solver")
    assert symbols and all(s.kind == "paper" for s in symbols)
    assert any("Solver" in s.detail for s in symbols[:3])
    ws.bib_state(str(tmp_path / "refs.bib"))
    known = navigation.workspace_symbols(ws, "Score-Based Generative Modeling")
    assert known[0].name == "ScoreBasedGenerative"
    assert navigation.workspace_symbols(ws, "") == []


# --- diagnostics and fixes -------------------------------------------------------------------


def test_undefined_keys_are_warned_and_fixed_with_the_nearest_key(ws, tmp_path):
    text = "\\cite{vaswaniAttentionAllYou2018, hoDenoisingDiffusionProbabilistic2020}\n\\bibliography{refs}\n"
    (tmp_path / "typo.tex").write_text(text)
    uri = open_file(ws, tmp_path / "typo.tex")
    [problem] = diagnostics(ws, uri)
    assert (problem.code, problem.severity, problem.range) == ("undefined-key", "warning", Range(Pos(0, 6), Pos(0, 32)))
    fixes = actions.code_actions(ws, uri, problem.range, [problem])
    replace = next(a for a in fixes if a.title == "Replace with vaswaniAttentionAllYou2017")
    apply_to_files(replace.edits)
    assert (tmp_path / "typo.tex").read_text().startswith("\\cite{vaswaniAttentionAllYou2017, hoDenoising")


def test_an_undefined_key_known_to_the_index_can_be_added_from_it(ws, tmp_path):
    key = "ScoreBasedGenerative"
    text = f"\\cite{{{key}x}}\n\\bibliography{{refs}}\n"
    (tmp_path / "idx.tex").write_text(text)
    uri = open_file(ws, tmp_path / "idx.tex")
    [problem] = diagnostics(ws, uri)
    fixes = actions.code_actions(ws, uri, problem.range, [problem])
    fix = next(a for a in fixes if a.title == f"Replace with {key} and add it to refs.bib from the index")
    apply_to_files(fix.edits)
    assert f"@misc{{{key}," in (tmp_path / "refs.bib").read_text()
    assert (tmp_path / "idx.tex").read_text().startswith(f"\\cite{{{key}}}")
    ws.reload_bib(str(tmp_path / "refs.bib"))
    ws.update_document(uri, (tmp_path / "idx.tex").read_text(), 2)
    assert diagnostics(ws, uri) == []


def test_a_key_in_two_bib_files_is_a_duplicate_in_draft_and_bib(ws, tmp_path):
    (tmp_path / "more.bib").write_text("@misc{heDeepResidualLearning2016,\n  title = {Again}\n}\n")
    text = "\\cite{heDeepResidualLearning2016}\n\\bibliography{refs,more}\n"
    (tmp_path / "two.tex").write_text(text)
    uri = open_file(ws, tmp_path / "two.tex")
    [problem] = diagnostics(ws, uri)
    assert problem.code == "duplicate-key" and "refs.bib:" in problem.message and "more.bib:1" in problem.message
    bib_problems = diagnostics(ws, open_file(ws, tmp_path / "more.bib"))
    assert [p.code for p in bib_problems] == ["duplicate-key"]


def test_unused_entries_are_hints_and_parse_errors_sit_at_their_line(ws, tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text(bib.read_text() + "\n@article{broken,\n  title = {Unclosed\n")
    problems = diagnostics(ws, open_file(ws, bib))
    unused = {p.data["key"] for p in problems if p.code == "unused-entry"}
    assert unused == {"unusedEntry2020", "songScoreBasedGenerativeModeling2021", "broken"}
    assert all(p.severity == "hint" for p in problems if p.code == "unused-entry")
    errors = [p for p in problems if p.code == "bib-syntax"]
    assert errors and errors[0].severity == "error"
    broken_line = bib.read_text().splitlines().index("@article{broken,")
    assert errors[0].range.start.line == broken_line


def test_unused_entry_hints_stay_fast_on_ten_thousand_entries(ws, tmp_path):
    entries = "\n".join(f"@misc{{key{i},\n  title = {{Paper {i}}}\n}}\n" for i in range(10_000))
    bib = tmp_path / "big.bib"
    bib.write_text(entries)
    (tmp_path / "big.tex").write_text("\\cite{key5}\n\\bibliography{big}\n")
    uri = open_file(ws, bib)
    started = time.perf_counter()
    problems = diagnostics(ws, uri)
    elapsed = time.perf_counter() - started
    assert len([p for p in problems if p.code == "unused-entry"]) == 9_999
    print(f"unused-entry diagnostics on 10,000 entries: {elapsed * 1000:.0f} ms")



def test_a_large_bib_gets_unused_entry_hints_once_it_is_open_in_the_editor(ws, tmp_path):
    entries = "\n".join(f"@misc{{key{i},\n  title = {{Paper {i}}}\n}}\n" for i in range(1_500))
    bib = tmp_path / "library.bib"
    bib.write_text(entries + "@misc{key7,\n  title = {Again}\n}\n")
    (tmp_path / "uses.tex").write_text("\\cite{key5}\n\\bibliography{library}\n")
    open_file(ws, tmp_path / "uses.tex")
    unopened = diagnostics(ws, path_to_uri(str(bib)))  # as published beside the draft that uses it
    assert [p.code for p in unopened] == ["bib-syntax", "duplicate-key"]  # its other problems stay
    opened = diagnostics(ws, open_file(ws, bib))
    assert len([p for p in opened if p.code == "unused-entry"]) == 1_499

# --- a real paper from ../shared ---------------------------------------------------------------


@pytest.fixture
def scipy_workspace(shared, tmp_path):
    import shutil

    from citewise.server.features.workspace import Workspace

    shutil.copytree(shared / "corpus" / "drafts" / "scipy-articles" / "scipy-1.0", tmp_path / "scipy")
    return Workspace([str(tmp_path / "scipy")]), tmp_path / "scipy"


def test_the_scipy_paper_resolves_every_key_and_its_bib_reports_unused_entries(scipy_workspace):
    ws, folder = scipy_workspace
    assert diagnostics(ws, str(folder / "paper.tex")) == []
    bib_problems = diagnostics(ws, str(folder / "references.bib"))
    assert len([p for p in bib_problems if p.code == "unused-entry"]) == 36
    ws.wait_for_reloads()  # its fields, parsed on the files lane: the server diagnoses it again then
    bib_problems = diagnostics(ws, str(folder / "references.bib"))
    assert [p.message for p in bib_problems if p.code == "bib-syntax"] == ["entry 'li05' uses undefined @string 'toms'"]


def test_keys_cited_through_a_macro_defined_in_the_root_are_found_from_an_included_file(scipy_workspace):
    ws, folder = scipy_workspace
    text = (folder / "scipy-optimize.tex").read_text()
    position = position_of(text, "\\inlinecite{nelder_simplex_1965", len("\\inlinecite{") + 2)
    uri = str(folder / "scipy-optimize.tex")
    assert hover.hover(ws, uri, position).markdown.startswith("**A Simplex Method for Function Minimization**")
    found = navigation.references(ws, uri, position)
    assert {location.path.rsplit("/", 1)[1] for location in found} == {"scipy-optimize.tex", "references.bib"}
