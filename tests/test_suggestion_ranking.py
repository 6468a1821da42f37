"""Suggestions that read the whole draft: reasons, feedback, the draft's context, and `citewise suggest`
on the same ranking. Real files, the real index of the example digest and the real model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from features_support import build_index, make_workspace, open_file, position_of

from citewise.bib.index.embed import QUERY_MAX_TOKENS
from citewise.server.features import actions, commands, ranking, suggestions
from citewise.server.features.positions import Range
from citewise.server.features.settings import Settings, parse_settings
from citewise.server.features.surroundings import paragraphs, surroundings
from citewise.server.features.workspace import Workspace, path_to_uri

SENTENCE = "Image generation with diffusion models reverses a stochastic noising process step by step"


@pytest.fixture(scope="session")
def index_path(tmp_path_factory, embedder) -> Path:
    return build_index(tmp_path_factory.mktemp("ranking-index") / "index.sqlite", embedder)


@pytest.fixture
def semantic_ws(tmp_path, index_path, embedder):
    workspace = make_workspace(tmp_path, index_path)
    workspace.load_model(embedder)
    assert workspace.searcher is not None and workspace.model_ready
    return workspace


def _suggested(ws, tmp_path):
    uri = open_file(ws, tmp_path / "paper.tex")
    for state in ws.bib_states_for(uri):  # the .bib's fields are parsed in the background at first
        assert state.file.fields_ready.wait(60)
    text = (tmp_path / "paper.tex").read_text()
    suggestions.suggest(ws, uri, position_of(text, SENTENCE, 3))  # as you write, never waiting for the
    ws.lanes.wait_idle("tables")  # draft's library, which the `tables` lane builds meanwhile
    return uri, suggestions.suggest(ws, uri, position_of(text, SENTENCE, 3))


def test_every_suggestion_says_why_in_the_item_and_the_cite_action(semantic_ws, tmp_path):
    uri, result = _suggested(semantic_ws, tmp_path)
    assert len(result.items) == 5
    assert all(item.reason for item in result.items)  # convert.suggestion_item_to_json carries it (test_lsp_convert)
    assert any("diffusion" in item.reason or "in your .bib" in item.reason for item in result.items)
    text = (tmp_path / "paper.tex").read_text()
    pos = position_of(text, SENTENCE, 3)
    cite = [a for a in actions.code_actions(semantic_ws, uri, Range(pos, pos), []) if a.title.startswith("Cite: ")]
    assert cite and all(" — " in a.title for a in cite)
    assert {a.title.split(" — ", 1)[1] for a in cite} == {item.reason for item in result.items}
    assert all(a.command is not None and a.command.name == "citewise.acceptSuggestion" for a in cite)


def test_a_dismissed_paper_is_not_suggested_again_and_the_setting_turns_feedback_off(semantic_ws, tmp_path):
    _, before = _suggested(semantic_ws, tmp_path)
    first = before.items[0].key
    assert commands.suggestion_feedback(semantic_ws, "dismissed", first) == {"recorded": True}
    _, after = _suggested(semantic_ws, tmp_path)
    assert first not in [item.key for item in after.items]
    stored = list((Path(semantic_ws.index_path).parent / "feedback").glob("*.json"))
    assert any(first in json.loads(path.read_text())["dismissed"] for path in stored)

    semantic_ws.update_settings(Settings(index_path=semantic_ws.settings.index_path, suggestion_feedback=False))
    _, without = _suggested(semantic_ws, tmp_path)
    assert [item.key for item in without.items] == [item.key for item in before.items]
    assert commands.suggestion_feedback(semantic_ws, "accepted", first) == {"recorded": False}


def test_an_accepted_paper_rises(semantic_ws, tmp_path):
    _, before = _suggested(semantic_ws, tmp_path)
    last = before.items[-1].key
    for _ in range(3):
        commands.suggestion_feedback(semantic_ws, "accepted", last)
    _, after = _suggested(semantic_ws, tmp_path)
    keys = [item.key for item in after.items]
    assert keys.index(last) < len(keys) - 1
    assert "you cited it from a suggestion before" in after.items[keys.index(last)].reason


def test_papers_passed_over_for_an_accepted_one_sink_and_are_remembered(semantic_ws, tmp_path):
    _, before = _suggested(semantic_ws, tmp_path)
    keys = [item.key for item in before.items]
    commands.suggestion_feedback(semantic_ws, "accepted", keys[2])
    stored = [json.loads(path.read_text()) for path in (Path(semantic_ws.index_path).parent / "feedback").glob("*.json")]
    ignored = next(data["ignored"] for data in stored if keys[2] in data["accepted"])
    assert ignored == {keys[0]: 1, keys[1]: 1}, "only the papers shown above the accepted one were passed over"
    _, after = _suggested(semantic_ws, tmp_path)
    scores = {item.key: item.score for item in after.items}
    assert scores[keys[2]] > before.items[2].score
    for passed_over in keys[:2]:
        assert scores.get(passed_over, -1.0) < before.items[keys.index(passed_over)].score
    commands.suggestion_feedback(semantic_ws, "accepted", keys[0])  # cited after all: no longer ignored
    stored = [json.loads(path.read_text()) for path in (Path(semantic_ws.index_path).parent / "feedback").glob("*.json")]
    assert keys[0] not in next(data["ignored"] for data in stored if keys[0] in data["accepted"])


def test_suggestion_count_goes_up_to_twenty(semantic_ws, tmp_path):
    settings, warnings = parse_settings({"suggestionCount": 20}, semantic_ws.settings)
    assert warnings == [] and settings.suggestion_count == 20
    semantic_ws.update_settings(settings)
    _, result = _suggested(semantic_ws, tmp_path)
    keys = [item.key for item in result.items]
    assert len(keys) == 20 and len(set(keys)) == 20


def test_the_paragraph_headings_and_title_reach_the_ranking():
    text = ("\\documentclass{article}\n\\title{Fast samplers for diffusion models}\n\\begin{document}\n"
            "\\begin{abstract}We make diffusion sampling cheap.\\end{abstract}\n"
            "\\section{Related work}\n\\subsection{Solvers}\nODE solvers need few steps \\cite{a}. "
            "They trade accuracy for speed.\n\n\\section{Results}\nOther text.\n\\end{document}\n")
    around = surroundings(text, text.index("They trade"), "latex")
    assert around.title == "Fast samplers for diffusion models"
    assert around.abstract == "We make diffusion sampling cheap."
    assert around.headings == ("Related work", "Solvers")
    assert around.paragraph == "ODE solvers need few steps . They trade accuracy for speed."
    spans = paragraphs(text, "latex")
    assert [text[s:e] for s, e in spans][0].startswith("\\begin{abstract}")
    assert not any("\\documentclass" in text[s:e] for s, e in spans)


def test_cited_papers_and_the_library_are_signals(semantic_ws, tmp_path):
    song = "songScoreBasedGenerativeModeling2021"  # in refs.bib and, by title, in the index
    text = ("\\documentclass{article}\n\\begin{document}\n\\section{Background}\n"
            f"Score-based models write generation as a stochastic differential equation \\cite{{{song}}}.\n\n"
            "\\section{Method}\nWe build on this line of work. We sample images with a diffusion model and a fast solver for the reverse process.\n"
            "\\bibliography{refs}\n\\end{document}\n")
    path = tmp_path / "draft.tex"
    path.write_text(text)
    uri = open_file(semantic_ws, path)
    for state in semantic_ws.bib_states_for(uri):
        assert state.file.fields_ready.wait(60)
    document = semantic_ws.document(uri)
    found = ranking.rank(semantic_ws, document, text.index("fast solver"))
    by_key = {c.key: c for c in found.candidates}
    assert set(by_key[song].features) == set(ranking.FEATURES)
    assert by_key[song].features["cited_elsewhere"] == 1.0 and by_key[song].features["cited_paragraph"] == 0.0
    assert by_key[song].features["in_bib"] == 1.0
    assert all(c.features["in_bib"] == 0.0 for c in found.candidates if c.key != song and c.key == c.ref.key)
    similar = [c for c in found.candidates if c.key != song and c.evidence.get("cited_similarity") == song]
    assert similar and all(c.features["cited_similarity"] > 0 for c in similar)
    assert by_key[song].evidence.get("section") == "Method"



def test_the_zotero_flag_is_read_for_the_ranked_rows_by_primary_key(tmp_path, index_path, embedder):
    """A paper read from Zotero weighs a little more; its flag is read for the candidates being
    ranked (primary-key lookups), never by scanning every row of the index."""
    copy = tmp_path / "copied" / "index.sqlite"
    copy.parent.mkdir()
    with sqlite3.connect(index_path) as origin, sqlite3.connect(copy) as target:
        origin.backup(target)
    ws = make_workspace(tmp_path, copy)
    ws.load_model(embedder)
    uri = open_file(ws, tmp_path / "paper.tex")
    document = ws.document(uri)
    offset = document.text.index(SENTENCE) + 20
    first = ranking.rank(ws, document, offset)
    chosen = next(c for c in first.candidates if not c.ref.zotero_key)
    assert not any(c.features["in_zotero"] for c in first.candidates if not c.ref.zotero_key)
    with sqlite3.connect(copy) as writer:
        writer.execute("UPDATE refs SET sources = sources || char(10) || 'zotero:12345' WHERE id = ?", (chosen.row_id,))
    statements: list[str] = []
    ws.index.db.set_trace_callback(statements.append)
    again = ranking.rank(ws, document, offset)
    ws.index.db.set_trace_callback(None)
    flagged = [c.row_id for c in again.candidates if c.features["in_zotero"] and not c.ref.zotero_key]
    assert flagged == [chosen.row_id]
    reads = [sql for sql in statements if "lower(sources)" in sql]
    plans = [detail for sql in reads for *_, detail in ws.index.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert plans and all(detail.startswith("SEARCH refs USING INTEGER PRIMARY KEY") for detail in plans), plans


def test_a_newer_library_is_built_on_the_tables_lane_while_the_one_before_answers(semantic_ws, tmp_path):
    song = "songScoreBasedGenerativeModeling2021"  # in refs.bib and, by title, in the index
    uri = open_file(semantic_ws, tmp_path / "paper.tex")
    for state in semantic_ws.bib_states_for(uri):
        assert state.file.fields_ready.wait(60)
    document = semantic_ws.document(uri)
    offset = document.text.index(SENTENCE) + 3
    as_you_write = suggestions.suggest(semantic_ws, uri, document.lines.position_of(offset))
    assert as_you_write.items and not any("in your .bib" in item.reason for item in as_you_write.items)
    semantic_ws.lanes.wait_idle("tables")  # the draft's first library, built meanwhile
    assert any("in your .bib" in item.reason for item in suggestions.suggest(
        semantic_ws, uri, document.lines.position_of(offset)).items)

    def in_bib() -> float:
        found = {c.ref.title: c for c in ranking.rank(semantic_ws, document, offset).candidates}
        return found["Score-Based Generative Modeling through Stochastic Differential Equations"].features["in_bib"]

    assert in_bib() == 1.0
    bib = (tmp_path / "refs.bib").read_text()
    start = bib.index(f"@inproceedings{{{song},")
    open_file(semantic_ws, tmp_path / "refs.bib", bib[:start] + bib[bib.index("\n}\n", start) + 3:])
    assert in_bib() == 1.0  # the .bib changed: the library before answers while the new one is built
    semantic_ws.lanes.wait_idle("tables")
    assert in_bib() == 0.0  # the entry is gone from the new one


REPO = Path(__file__).resolve().parents[1]


def _cli(*args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "citewise", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_citewise_suggest_follows_input_and_ranks_like_the_server(tmp_path, index_path, embedder):
    make_workspace(tmp_path, index_path)
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\n\\input{sections/method}\n\\bibliography{refs}\n\\end{document}\n")
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "method.tex").write_text(
        "\\section{Method}\nWe sample images with a diffusion model and a fast ODE solver that needs only a "
        "handful of steps, following \\cite{hoDenoisingDiffusionProbabilistic2020}.\n\n"
        "Our encoder is a transformer pre-trained on a large text corpus with masked language modelling "
        "and fine-tuned for retrieval.\n")
    result = _cli("suggest", "main.tex", "-k", "4", "--json", "--index", str(index_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [(r["file"], r["line"]) for r in records] == [("sections/method.tex", 1), ("sections/method.tex", 4)]
    assert all(len(r["items"]) == 4 and all(item["reason"] for item in r["items"]) for r in records)
    assert "hoDenoisingDiffusionProbabilistic2020" not in [i["key"] for r in records for i in r["items"]]

    ws = Workspace([str(tmp_path)], Settings(index_path=str(index_path), suggestion_feedback=False))
    ws.load_model(embedder)
    method = tmp_path / "sections" / "method.tex"
    expected = suggestions.draft_suggestions(ws, str((tmp_path / "main.tex").resolve()), 4)
    assert [[i.key for i in p.items] for p in expected] == [[i["key"] for i in r["items"]] for r in records]
    document = ws.document(path_to_uri(str(method)))
    end = document.text.index("fine-tuned for retrieval.") + len("fine-tuned for retrieval.")
    _, direct = suggestions.suggestions_at(ws, document, document.lines.position_of(end), 10)
    cited = {"hoDenoisingDiffusionProbabilistic2020"}
    assert [s.item.key for s in direct if s.item.key not in cited][:4] == [i["key"] for i in records[1]["items"]]


def test_a_postgresql_index_ranks_like_sqlite(tmp_path, index_path, embedder, postgres):
    """The ranking reads the index only through nearest-neighbour search and chosen rows' vectors,
    which both backends answer."""
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "pg").mkdir()
    ranked = []
    for folder, location in ((tmp_path / "sqlite", str(index_path)),
                             (tmp_path / "pg", str(build_index(postgres.new_database(), embedder)))):
        ws = make_workspace(folder, None, suggestion_feedback=False)
        ws.update_settings(Settings(index_path=location, suggestion_feedback=False))
        ws.load_model(embedder)
        _, result = _suggested(ws, folder)
        assert len(result.items) == 5 and all(item.reason for item in result.items)
        ranked.append([item.key for item in result.items])
    assert ranked[1][0] == ranked[0][0] and len(set(ranked[0]) & set(ranked[1])) >= 4


def _in_a_process_of_its_own(script: str, folder, *args: str) -> subprocess.CompletedProcess:
    """Run `script` in a new Python (freezing and the model's threads are for the whole process)."""
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=folder)
    assert result.returncode == 0, result.stderr
    return result


def test_loading_the_model_takes_the_objects_then_alive_out_of_the_collectors_walk(tmp_path):
    """A full garbage collection in the server walks only what was made after the model loaded
    (in a process of its own: freezing is for the whole process)."""
    script = ("import gc; from citewise.server.features.papers import Papers; "
              "from citewise.server.features.settings import Settings; "
              "before = gc.get_freeze_count(); papers = Papers(None, Settings().model); papers.load_model(); "
              "print(before, gc.get_freeze_count(), papers.model_ready)")
    result = _in_a_process_of_its_own(script, tmp_path)
    before, after, ready = result.stdout.split()
    assert before == "0" and int(after) > 10_000 and ready == "True"  # numpy, tokenizers, the server: no torch


def test_the_model_has_encoded_once_before_it_is_published(tmp_path):
    """The first encoding happens on the model lane, not in the first completion that ranks
    densely: once the model is published, the tokenizer has cut a text (at QUERY_MAX_TOKENS) and
    the embedding rows of the warm-up text's words are resident; the layers' float32 weights
    (about 41 MB) are not: read once to build the int8 graph, they were let go."""
    script = ("import re; from citewise.server.features.papers import Papers; "
              "from citewise.server.features.settings import Settings; "
              "papers = Papers(None, Settings().model); papers.load_model(); kb, inside = 0, False\n"
              "for line in open('/proc/self/smaps'):\n"
              "    if re.match('[0-9a-f]+-[0-9a-f]+ ', line): inside = line.rstrip().endswith('model.safetensors')\n"
              "    elif inside and line.startswith('Rss:'): kb += int(line.split()[1])\n"
              "truncation = papers.embedder.model._tokenizer.truncation\n"
              "print(kb, truncation and truncation['max_length'], papers.embedder.query_max_tokens)")
    result = _in_a_process_of_its_own(script, tmp_path)
    resident_kb, cut, query_tokens = result.stdout.split()
    assert 0 < int(resident_kb) < 10 * 1024, resident_kb
    assert cut == query_tokens == str(QUERY_MAX_TOKENS)


def test_a_model_that_fails_to_load_still_takes_torch_out_of_the_collectors_walk(tmp_path):
    """torch is imported before the model folder is found missing; it stays as long as the server."""
    script = ("import gc, sys; from citewise.server.features.papers import Papers\n"
              "papers = Papers(None, sys.argv[1])\n"
              "try:\n    papers.load_model()\nexcept Exception:\n    pass\n"
              "print(gc.get_freeze_count(), 'torch' in sys.modules, papers.model_ready, papers.problem is not None)")
    result = _in_a_process_of_its_own(script, tmp_path, str(tmp_path / "no-such-model"))
    frozen, torch_imported, ready, problem = result.stdout.split()
    assert int(frozen) > 50_000 and torch_imported == "True" and ready == "False" and problem == "True"
