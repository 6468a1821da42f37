"""Completion, suggestions, cite actions and commands against real files, a real index and the real model."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from features_support import apply, apply_to_files, build_index, make_workspace, open_file, position_of

from citewise.bib.bibtex.edit import insert_entry_edit
from citewise.bib.bibtex.reader import parse_bib_text
from citewise.bib.errors import CitewiseError
from citewise.bib.model import Author, Reference
from citewise.server.features import accept, actions, commands, completion, cursor_query, suggestions
from citewise.server.features.cursor_query import cursor_context
from citewise.server.features.diagnostics import diagnostics
from citewise.server.features.edits import _InsertionPlan
from citewise.server.features.positions import Pos, Range, TextEdit


@pytest.fixture(scope="session")
def index_path(tmp_path_factory, embedder) -> Path:
    return build_index(tmp_path_factory.mktemp("index") / "index.sqlite", embedder)


@pytest.fixture
def ws(tmp_path, index_path):
    return make_workspace(tmp_path, index_path)


@pytest.fixture
def semantic_ws(tmp_path, index_path, embedder):
    workspace = make_workspace(tmp_path, index_path)
    workspace.load_model(embedder)
    assert workspace.searcher is not None and workspace.model_ready
    return workspace


def _typing(ws, tmp_path, line: str, name="paper.tex", bib="\\bibliography{refs}\n"):
    text = f"\\documentclass{{article}}\n\\begin{{document}}\n{line}\n{bib}\\end{{document}}\n"
    path = tmp_path / name
    path.write_text(text)
    uri = open_file(ws, path, text)
    return uri, Pos(2, len(line)), text


# --- completion ----------------------------------------------------------------------------


def test_a_typed_key_prefix_finds_the_bib_entry_first(ws, tmp_path):
    uri, pos, _ = _typing(ws, tmp_path, "As shown \\cite{vasw")
    candidates = completion.complete(ws, uri, pos)
    first = candidates[0]
    assert first.key == "vaswaniAttentionAllYou2017" and first.in_bib
    assert first.detail == "Vaswani et al. 2017"
    assert "**Attention Is All You Need**" in first.documentation_md and "Transformer" in first.documentation_md
    assert first.replace_range == Range(Pos(2, 15), Pos(2, 19))


@pytest.mark.parametrize("typed", ["attention", "Vaswani", "2017"])
def test_author_title_words_and_year_find_the_key_and_lead_the_filter_text(ws, tmp_path, typed):
    uri, pos, _ = _typing(ws, tmp_path, "As shown \\cite{" + typed)
    candidates = completion.complete(ws, uri, pos)
    match = next(c for c in candidates if c.key == "vaswaniAttentionAllYou2017")
    assert match.filter_text.startswith(typed)
    assert "vaswaniAttentionAllYou2017" in match.filter_text


def test_a_typo_still_matches_and_leads_the_filter_text_as_typed(ws, tmp_path):
    uri, pos, _ = _typing(ws, tmp_path, "\\cite{vaswnai")
    match = next(c for c in completion.complete(ws, uri, pos) if c.key == "vaswaniAttentionAllYou2017")
    assert match.filter_text.startswith("vaswnai ")  # clients that filter by prefix keep what the server forgave


def _accept(ws, uri: str, text: str, candidate) -> accept.AcceptedPapers | None:
    """The user accepts `candidate`: the editor replaces the typed key and sends the new text."""
    ws.update_document(uri, apply(text, [TextEdit(candidate.replace_range, candidate.insert_text)]), 2)
    return accept.accepted_papers(ws, uri)


def test_bib_entries_come_before_index_papers_whose_entry_accepting_adds(ws, tmp_path):
    uri, pos, text = _typing(ws, tmp_path, "Diffusion samplers are fast \\cite{")
    candidates = completion.complete(ws, uri, pos)
    flags = [c.in_bib for c in candidates]
    assert flags[:6] == [True] * 6 and False in flags
    assert flags.index(False) == 6 and all(not f for f in flags[6:])
    assert [c.sort_text for c in candidates] == sorted(c.sort_text for c in candidates)
    outside = next(c for c in candidates if not c.in_bib)
    accepted = _accept(ws, uri, text, outside)
    edits = accept.entry_edits(ws, accepted)
    assert accepted.keys == [outside.key] and list(edits.edits) == [str(tmp_path / "refs.bib")]
    assert edits.versions == {str(tmp_path / "refs.bib"): None}  # not open in the editor
    assert accept.draft_edits(ws, accepted).edits == {}  # the whole key was replaced
    assert accept.accepted_papers(ws, uri) is None, "the same acceptance added the entry twice"
    bib_text = (tmp_path / "refs.bib").read_text()
    new_bib = apply(bib_text, edits.edits[str(tmp_path / "refs.bib")])
    assert parse_bib_text(new_bib).errors == []
    assert {e.key for e in parse_bib_text(new_bib).entries} == {e.key for e in parse_bib_text(bib_text).entries} | {outside.key}
    assert new_bib.startswith(bib_text[:-1])  # nothing before the insertion changed


def test_keys_already_in_the_citation_are_not_offered_again(ws, tmp_path):
    uri, pos, _ = _typing(ws, tmp_path, "\\cite{vaswaniAttentionAllYou2017, ")
    keys = [c.key for c in completion.complete(ws, uri, pos)]
    assert "vaswaniAttentionAllYou2017" not in keys and "heDeepResidualLearning2016" in keys


def test_pandoc_and_myst_citations_complete(ws, tmp_path):
    text = "---\nbibliography: refs.bib\n---\n\nSee [@vasw and {cite:p}`devl\n"
    path = tmp_path / "draft.md"
    path.write_text(text)
    uri = open_file(ws, path)
    pandoc = completion.complete(ws, uri, position_of(text, "[@vasw", 6))
    myst = completion.complete(ws, uri, position_of(text, "devl", 4))
    assert pandoc[0].key == "vaswaniAttentionAllYou2017"
    assert myst[0].key == "devlinBERTPretrainingDeep2019"


def test_a_draft_without_bibliography_gets_a_new_references_bib_and_a_declaration(ws, tmp_path):
    uri, pos, text = _typing(ws, tmp_path, "Solvers \\cite{DPM", name="bare.tex", bib="")
    candidate = next(c for c in completion.complete(ws, uri, pos) if not c.in_bib)
    declared = apply(text, candidate.additional_text_edits)
    assert "\\bibliography{references}\n\\end{document}" in declared
    accepted = _accept(ws, uri, text, candidate)  # as eglot's TAB: without the additionalTextEdits
    assert not (tmp_path / "references.bib").exists()
    assert accept.entry_edits(ws, accepted).edits[str(tmp_path / "references.bib")][0].new_text.startswith("@")
    [declaration] = accept.draft_edits(ws, accepted).edits[str(tmp_path / "bare.tex")]
    assert declaration == candidate.additional_text_edits[0]  # what the item would have added
    declared_now = apply(ws.document(uri).text, [declaration])
    ws.update_document(uri, declared_now, 3)
    assert accept.draft_edits(ws, accepted).edits == {}  # declared once


def test_the_rest_of_a_doi_left_in_front_of_the_key_is_removed_on_the_text_as_it_is_now(ws, tmp_path):
    """eglot's TAB replaces only the DOI's last word: the leftover goes in an edit of its own,
    computed again on newer text (with its version) when the user typed on meanwhile."""
    uri, _, text = _typing(ws, tmp_path, "Segmentation \\cite{10.1109/iccv.2007.4408927")
    ref = Reference(key="sinopRandomWalkerSegmentation2007", entry_type="inproceedings", title="A seeded image segmentation framework", year="2007", doi="10.1109/iccv.2007.4408927")
    accept.add_offers(ws, uri, [ref], leftover="10.1109/iccv.2007.")
    accepted_text = text.replace("2007.4408927", "2007." + ref.key + "}.")
    ws.update_document(uri, accepted_text, 2)
    accepted = accept.accepted_papers(ws, uri)
    assert accepted is not None and accepted.keys == [ref.key]
    assert list(accept.entry_edits(ws, accepted).edits) == [str(tmp_path / "refs.bib")]
    first = accept.draft_edits(ws, accepted)
    assert first.versions == {str(tmp_path / "paper.tex"): 2}
    assert apply(accepted_text, first.edits[str(tmp_path / "paper.tex")]).count("\\cite{" + ref.key + "}.") == 1
    typed_on = accepted_text.replace("Segmentation \\cite", "Seeded segmentation \\cite")  # before the edit arrived
    ws.update_document(uri, typed_on, 3)
    again = accept.draft_edits(ws, accepted)
    assert again.versions == {str(tmp_path / "paper.tex"): 3}
    assert "Seeded segmentation \\cite{" + ref.key + "}." in apply(typed_on, again.edits[str(tmp_path / "paper.tex")])
    ws.update_document(uri, apply(typed_on, again.edits[str(tmp_path / "paper.tex")]), 4)
    assert accept.draft_edits(ws, accepted).edits == {}  # nothing left to remove


def test_only_an_offered_index_paper_newly_cited_gets_an_entry(ws, tmp_path):
    uri, pos, text = _typing(ws, tmp_path, "Solvers \\cite{")
    candidates = completion.complete(ws, uri, pos)
    in_bib = next(c for c in candidates if c.in_bib)
    assert _accept(ws, uri, text, in_bib) is None
    offered = [c for c in completion.complete(ws, uri, pos) if not c.in_bib]
    ws.update_document(uri, text.replace("Solvers", "Solvers " + offered[0].key), 3)  # mentioned, not cited
    assert accept.accepted_papers(ws, uri) is None
    assert _accept(ws, uri, text, offered[1]).keys == [offered[1].key]


def test_inserting_an_empty_or_missing_key_says_so(ws, tmp_path):
    uri, pos, _ = _typing(ws, tmp_path, "x ")
    for key in (None, "", "  "):
        with pytest.raises(CitewiseError, match="no citation key to insert"):
            commands.insert_citation(ws, uri, pos, key)


def test_the_insertion_plan_places_entries_like_the_bibtex_editor():
    sorted_bib = "@misc{alpha,\n  title = {A}\n}\n\n@misc{delta,\n  title = {D}\n}\n"
    unsorted_bib = "@misc{zeta,\n  title = {Z}\n}\n@misc{beta,\n  title = {B}\n}\n% trailing comment\n"
    for text in (sorted_bib, unsorted_bib, "", "% only a comment"):
        entries = parse_bib_text(text).entries
        for key in ("aardvark", "charlie", "zulu"):
            entry = f"@misc{{{key},\n  title = {{T}}\n}}"
            expected = insert_entry_edit(text, key, entry)
            offset, new_text = _InsertionPlan.build(text, entries).insertion(key, entry)
            assert (offset, new_text) == (expected.start_offset, expected.new_text), (text, key)


def test_semantic_ranking_puts_papers_that_fit_the_sentence_first(semantic_ws, tmp_path):
    line = "Denoising diffusion probabilistic models synthesise high quality images \\cite{"
    uri, pos, _ = _typing(semantic_ws, tmp_path, line)
    completion.warm_up(semantic_ws, uri, wait=True)
    assert [bib.titles_embedded for bib in semantic_ws.status().bib_files] == [True]
    completion.complete(semantic_ws, uri, pos)  # the sentence is embedded on the `queries` lane meanwhile
    semantic_ws.lanes.wait_idle("queries")
    candidates = completion.complete(semantic_ws, uri, pos)
    bib = [c.key for c in candidates if c.in_bib]
    assert bib[0] == "hoDenoisingDiffusionProbabilistic2020"
    assert bib.index("songScoreBasedGenerativeModeling2021") < bib.index("devlinBERTPretrainingDeep2019")
    index_keys = [c.key for c in candidates if not c.in_bib]
    assert any("Diffusion" in key or "DPM" in key or "Solver" in key for key in index_keys[:3])


def test_completion_leaves_a_new_sentence_to_the_queries_lane_to_embed(semantic_ws, tmp_path):
    line = "Score matching with stochastic differential equations turns noise into images \\cite{"
    uri, pos, text = _typing(semantic_ws, tmp_path, line)
    query = cursor_context(text, text.index(line) + len(line)).query
    searcher = semantic_ws.searcher
    assert searcher is not None and not searcher.embedded(query)
    lane_free = threading.Event()
    semantic_ws.lanes.submit("queries", lane_free.wait)  # the lane is busy: nothing embeds there yet
    first = completion.complete(semantic_ws, uri, pos)  # returns without the embedding
    assert first and not searcher.embedded(query)
    lane_free.set()
    semantic_ws.lanes.wait_idle("queries")
    assert searcher.embedded(query)
    again = completion.complete(semantic_ws, uri, pos)
    assert cursor_query.context_hits(semantic_ws, query, latest=False, embed_here=False)[1] is not None
    assert [c.key for c in again if c.in_bib][0] == "songScoreBasedGenerativeModeling2021"


# --- suggestions and cite actions ----------------------------------------------------------


def test_suggestions_leave_out_papers_cited_in_the_sentence(semantic_ws, tmp_path):
    uri = open_file(semantic_ws, tmp_path / "paper.tex")
    text = (tmp_path / "paper.tex").read_text()
    result = suggestions.suggest(semantic_ws, uri, position_of(text, "Diffusion models generate", 5))
    keys = [item.key for item in result.items]
    assert len(keys) == 5
    assert "hoDenoisingDiffusionProbabilistic2020" not in keys
    assert result.range.start == Pos(3, 0)
    assert all(item.title and isinstance(item.in_bib, bool) for item in result.items)


def test_a_suggestion_for_a_sentence_on_diffusion_is_about_diffusion(semantic_ws, tmp_path):
    uri = open_file(semantic_ws, tmp_path / "paper.tex")
    text = (tmp_path / "paper.tex").read_text()
    result = suggestions.suggest(semantic_ws, uri, position_of(text, "Image generation with diffusion", 3))
    top = " ".join(item.title for item in result.items[:3])
    assert "Diffusion" in top or "DPM" in top or "Score-Based" in top


def test_a_cite_action_inserts_before_the_period_and_adds_the_entry(semantic_ws, tmp_path):
    uri = open_file(semantic_ws, tmp_path / "paper.tex")
    text = (tmp_path / "paper.tex").read_text()
    pos = position_of(text, "Image generation with diffusion", 3)
    cite = [a for a in actions.code_actions(semantic_ws, uri, Range(pos, pos), []) if a.title.startswith("Cite: ")]
    assert len(cite) == 5
    action = next(a for a in cite if str(tmp_path / "refs.bib") in a.edits)
    inserted = next(e.new_text for e in action.edits[str(tmp_path / "paper.tex")] if "\\cite{" in e.new_text)
    key = inserted.removeprefix("~\\cite{").removesuffix("}")
    before_bib = (tmp_path / "refs.bib").read_text()
    apply_to_files(action.edits)
    assert f"reverses a stochastic noising process step by step~\\cite{{{key}}}.\n" in (tmp_path / "paper.tex").read_text()
    new_bib = (tmp_path / "refs.bib").read_text()
    assert new_bib.startswith(before_bib.rstrip("\n")) and f"{{{key}," in new_bib
    assert parse_bib_text(new_bib).errors == []


def test_markdown_cite_actions_use_pandoc_syntax_and_the_bib_key_of_a_known_paper(semantic_ws, tmp_path):
    text = ("---\nbibliography: refs.bib\n---\n\nGenerative modeling can be written as a stochastic differential "
            "equation that turns noise into data with a score-based model.\n")
    path = tmp_path / "d.md"
    path.write_text(text)
    uri = open_file(semantic_ws, path)
    pos = position_of(text, "Generative")
    found = actions.code_actions(semantic_ws, uri, Range(pos, pos), [])
    inserted = [e.new_text for a in found for e in a.edits.get(str(path), [])]
    assert inserted and all(t.startswith(" [@") and t.endswith("]") for t in inserted)
    known = [a for a in found if "[@songScoreBasedGenerativeModeling2021]" in a.edits[str(path)][0].new_text]
    assert known and str(tmp_path / "refs.bib") not in known[0].edits


def test_switching_cite_actions_off_leaves_only_fixes(semantic_ws, tmp_path):
    semantic_ws.update_settings(semantic_ws.settings.__class__(index_path=semantic_ws.settings.index_path,
                                                               suggest_code_actions=False))
    uri = open_file(semantic_ws, tmp_path / "paper.tex")
    assert actions.code_actions(semantic_ws, uri, Range(Pos(5, 3), Pos(5, 3)), []) == []


def test_claim_hints_are_optional_and_carry_cite_actions(ws, tmp_path):
    text = "Recent work improved 30\\% of benchmarks.\nWe did it \\cite{heDeepResidualLearning2016} (state of the art).\n\\bibliography{refs}\n"
    path = tmp_path / "claims.tex"
    path.write_text(text)
    uri = open_file(ws, path)
    assert [p for p in diagnostics(ws, uri) if p.code == "claim-without-citation"] == []
    ws.update_settings(ws.settings.__class__(index_path=ws.settings.index_path, claim_hints=True,
                                             suggest_code_actions=False))
    hints = [p for p in diagnostics(ws, uri) if p.code == "claim-without-citation"]
    assert [h.range.start.line for h in hints] == [0] and hints[0].severity == "hint"
    cites = actions.code_actions(ws, uri, hints[0].range, hints)
    assert cites and all(a.title.startswith("Cite: ") for a in cites)


# --- commands --------------------------------------------------------------------------------


def test_insert_citation_of_an_index_paper_adds_citation_and_entry(ws, tmp_path):
    uri, pos, text = _typing(ws, tmp_path, "Solvers matter ")
    key = ws.index.all_keys()[0]
    edits = commands.insert_citation(ws, uri, pos, key)
    assert apply(text, edits[str(tmp_path / "paper.tex")]).splitlines()[2] == f"Solvers matter \\cite{{{key}}}"
    assert f"{{{key}," in edits[str(tmp_path / "refs.bib")][0].new_text


def test_insert_citation_inside_a_citation_adds_the_key(ws, tmp_path):
    uri, pos, text = _typing(ws, tmp_path, "\\cite{heDeepResidualLearning2016")
    edits = commands.insert_citation(ws, uri, pos, "vaswaniAttentionAllYou2017")
    assert list(edits) == [str(tmp_path / "paper.tex")]
    assert "\\cite{heDeepResidualLearning2016,vaswaniAttentionAllYou2017" in apply(text, edits[str(tmp_path / "paper.tex")])


def test_insert_citation_of_an_unknown_key_is_an_error(ws, tmp_path):
    uri, pos, _ = _typing(ws, tmp_path, "x ")
    with pytest.raises(CitewiseError, match="unknown citation key"):
        commands.insert_citation(ws, uri, pos, "noSuchKey1999")


def test_generate_bib_writes_cited_entries_and_keeps_the_others(ws, tmp_path):
    text = "\\cite{vaswaniAttentionAllYou2017}\n\\bibliography{refs}\n"
    (tmp_path / "paper.tex").write_text(text)
    uri = open_file(ws, tmp_path / "paper.tex")
    written = commands.generate_bib(ws, uri)
    assert written == str(tmp_path / "refs.bib")
    keys = [e.key for e in parse_bib_text((tmp_path / "refs.bib").read_text()).entries]
    assert keys[0] == "vaswaniAttentionAllYou2017" and "unusedEntry2020" in keys and len(keys) == len(set(keys)) == 6
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_search_papers_returns_plain_dicts(ws):
    results = commands.search_papers(ws, "diffusion ODE solver", 3)
    assert len(results) == 3 and results[0]["reference"]["title"]
    assert "Solver" in results[0]["title"] or "Diffusion" in results[0]["title"]


def test_reindex_adds_workspace_bibs_and_can_be_cancelled(tmp_path):
    ws = make_workspace(tmp_path, tmp_path / "fresh.sqlite")
    ws.bib_paths_for(str(tmp_path / "paper.tex"))
    with pytest.raises(commands.Cancelled):
        commands.reindex(ws, lambda message, percent: None, lambda: True)
    reports = []
    summary = commands.reindex(ws, lambda message, percent: reports.append(percent), lambda: False)
    assert summary["added"] == 6 and reports[-1] == 100
    assert ws.index is not None and ws.index.get("vaswaniAttentionAllYou2017").year == "2017"


def test_reindex_never_waits_for_another_process_writing_the_graph(tmp_path, monkeypatch, embedder):
    """A large index (the threshold lowered to the digest's 75 papers) whose graph another process
    is writing (it holds the graph's real lock, as `index add` does for an hour at 3M): reindex
    stores and embeds the workspace's new papers and returns; dense search finds them meanwhile,
    scored exactly, and the next sync folds them into the graph."""
    import fcntl

    from citewise.bib.index import ann
    from citewise.bib.index.store import Index

    monkeypatch.setattr(ann, "ANN_THRESHOLD", 50)
    index_path = build_index(tmp_path / "large.sqlite", embedder)
    assert len(ann.open_graph(ann.ann_path(index_path), view=True)) == 75
    ws = make_workspace(tmp_path, index_path)
    ws.load_model(embedder)
    ws.bib_paths_for(str(tmp_path / "paper.tex"))
    finished: list[dict] = []
    with open(str(ann.ann_path(index_path)) + ".lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        job = threading.Thread(target=lambda: finished.append(commands.reindex(ws, lambda m, p: None, lambda: False)),
                               daemon=True)
        job.start()
        job.join(timeout=120)
        assert finished, "reindex waited for the graph's lock"
        assert finished[0]["embedded"] >= 1
        with Index.open(index_path, read_only=True) as reader:
            new_rows = [row for row, in reader.db.execute("SELECT DISTINCT id FROM ann_changes")]
            assert len(new_rows) == finished[0]["embedded"]
            for row in new_rows:
                assert reader.nearest(reader.vectors_of([row], 384)[0], 1, None)[0][0] == row
    with Index.open(index_path):  # the lock let go: opening repairs these few
        assert len(ann.open_graph(ann.ann_path(index_path), view=True)) == 75 + len(new_rows)


def test_pushing_to_zotero_without_a_library_is_a_clear_error(ws, monkeypatch):
    monkeypatch.delenv("CITEWISE_ZOTERO_LIBRARY", raising=False)
    ws.bib_state(str(Path(ws.roots[0]) / "refs.bib"))
    with pytest.raises(CitewiseError, match="Zotero library"):
        commands.push_to_zotero(ws, "vaswaniAttentionAllYou2017")


def test_reference_dicts_can_be_inserted(ws, tmp_path):
    uri, pos, _ = _typing(ws, tmp_path, "New ")
    ref = Reference(key="newPaper2024", title="A New Paper", authors=[Author("New", "Ann")], year="2024")
    from citewise.bib.model import reference_to_dict

    edits = commands.insert_citation(ws, uri, pos, reference_to_dict(ref))
    assert "@misc{newPaper2024," in edits[str(tmp_path / "refs.bib")][0].new_text
