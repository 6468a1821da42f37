"""Completion's candidate tables on real files and a real index: the index table per revision,
the early table of a large .bib whose fields are still being parsed, and completion using both."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from features_support import build_index, make_workspace, open_file

from citewise.bib.index.store import Index
from citewise.bib.model import Author, Reference
from citewise.server.features import completion, completion_tables
from citewise.server.features.completion_tables import SMALL_BIB_CHARS, BibTable, read_index_table
from citewise.server.features.positions import Pos


@pytest.fixture
def index_path(tmp_path) -> Path:
    return build_index(tmp_path / "index.sqlite")


def _keys(index_path: Path) -> list[str]:
    with Index.open(index_path, create=False) as index:
        return index.all_keys()


def test_the_index_table_finds_key_prefixes_then_word_prefixes_then_typos(index_path):
    table = read_index_table(str(index_path))
    key = _keys(index_path)[0]
    assert table.candidates(key[:5].lower(), 10, lambda k: False)[0][1].lower().startswith(key[:5].lower())
    by_word = [k for _, k in table.candidates("diffus", 10, lambda k: False)]
    assert by_word and len(by_word) <= 10
    with Index.open(index_path, create=False) as index:
        found = index.get_many(by_word)
    assert all("diffus" in (found[k].title + " ".join(a.family for a in found[k].authors)).lower() for k in by_word)
    assert [k for _, k in table.candidates("difusion", 10, lambda k: False)], "a typo finds the word"
    assert not table.candidates("diffus", 10, lambda k: True), "skipped keys are left out"


def test_the_index_table_follows_the_index_revision(tmp_path, index_path):
    ws = make_workspace(tmp_path, index_path)
    before = completion.INDEX_TABLES.wait(ws)
    assert before is not None and before.revision == ws.papers.revision()
    with Index.open(index_path) as other_process:
        other_process.add_references([Reference(key="zyxwvutsrqPaper2024", title="Quokka behaviour in the wild",
                                                authors=[Author("Zyxwvutsrq", "A.")], year="2024")])
    assert completion.INDEX_TABLES.current(ws) is before, "the old table answers while the new one is built"
    after = completion.INDEX_TABLES.wait(ws)
    assert after is not before and after.revision == ws.papers.revision()
    assert [k for _, k in after.candidates("quokka", 5, lambda k: False)] == ["zyxwvutsrqPaper2024"]


def test_while_the_index_keeps_changing_the_table_is_rebuilt_only_so_often(tmp_path, index_path, monkeypatch):
    monkeypatch.setattr(completion_tables, "REBUILD_SPACING", 1e6)  # the next build waits a million times the last
    ws = make_workspace(tmp_path, index_path)
    before = completion.INDEX_TABLES.wait(ws)
    with Index.open(index_path) as other_process:
        other_process.add_references([Reference(key="zyxwvutsrqPaper2024", title="Quokka behaviour in the wild")])
    assert completion.INDEX_TABLES.current(ws) is before
    ws.lanes.wait_idle("tables")
    assert completion.INDEX_TABLES.current(ws) is before, "no build was started"
    monkeypatch.setattr(completion_tables, "REBUILD_SPACING", 0)
    after = completion.INDEX_TABLES.wait(ws)  # tests and benchmarks build at once
    assert after is not before and after.revision == ws.papers.revision()
    with Index.open(index_path) as other_process:
        other_process.add_references([Reference(key="Quokka2025", title="Quokkas again")])
    completion.INDEX_TABLES.current(ws)
    ws.lanes.wait_idle("tables")
    assert completion.INDEX_TABLES.current(ws).revision == ws.papers.revision(), "no spacing: built at once"


def test_completion_offers_index_papers_from_the_table(tmp_path, index_path):
    ws = make_workspace(tmp_path, index_path)
    text = "\\documentclass{article}\n\\begin{document}\nSolvers \\cite{DPM\n\\bibliography{refs}\n\\end{document}\n"
    (tmp_path / "paper.tex").write_text(text)
    uri = open_file(ws, tmp_path / "paper.tex", text)
    asked_the_index = [c.key for c in completion.complete(ws, uri, Pos(2, 17)) if not c.in_bib]
    completion.warm_up(ws, uri, wait=True)
    from_the_table = [c for c in completion.complete(ws, uri, Pos(2, 17)) if not c.in_bib]
    assert from_the_table and all("dpm" in c.filter_text.lower() for c in from_the_table)
    assert from_the_table[0].key in asked_the_index and from_the_table[0].sort_text.startswith("1")


def test_a_large_bib_answers_with_keys_and_titles_before_its_fields_are_parsed(tmp_path, index_path):
    entries = [f"@article{{smith{n}Quokka,\n  author = {{Smith, Ann}},\n  title = {{Quokka study number {n}}},\n"
               f"  year = {{{2000 + n % 20}}},\n  journal = {{Journal of Marsupials}},\n  abstract = {{{'x ' * 200}}}\n}}\n"
               for n in range(400)]
    bib = "\n".join(entries)
    assert len(bib) > SMALL_BIB_CHARS
    ws = make_workspace(tmp_path, index_path)
    (tmp_path / "refs.bib").write_text(bib)
    text = "\\documentclass{article}\n\\begin{document}\nAs seen \\cite{quokka\n\\bibliography{refs}\n\\end{document}\n"
    (tmp_path / "paper.tex").write_text(text)
    uri = open_file(ws, tmp_path / "paper.tex", text)
    release = threading.Event()
    ws.lanes.submit("files", release.wait)  # the fields wait behind this job
    try:
        (state,) = ws.bib_states_for(uri)
        assert "files" in ws.lanes.busy()
        early = completion.complete(ws, uri, Pos(2, 21))
        assert not state.ready and BibTable.of(state, ws.lanes) is state.derived["completion-early"]
        assert len([c for c in early if c.in_bib]) == completion.MAX_BIB_CANDIDATES
        assert all(c.filter_text.startswith("quokka") and c.sort_text.startswith("0") for c in early if c.in_bib)
        assert early[0].detail.endswith(str(2000 + int(early[0].key[5:-6]) % 20)), "the year is read early"
    finally:
        release.set()
    state.file.wait_for_fields(30)
    completion.warm_up(ws, uri, wait=True)
    ws.lanes.wait_idle()
    assert ws.lanes.busy() == []
    full = [c for c in completion.complete(ws, uri, Pos(2, 21)) if c.in_bib]
    assert "completion-early" not in state.derived
    assert full[0].detail.startswith("Smith") and "Journal of Marsupials" in completion.documentation(ws, uri, full[0].key)


def test_an_index_too_large_for_a_table_answers_from_its_own_queries(tmp_path, index_path, monkeypatch):
    monkeypatch.setattr(completion_tables, "INDEX_TABLE_MAX_PAPERS", 5)
    ws = make_workspace(tmp_path, index_path)
    text = "\\documentclass{article}\n\\begin{document}\nSolvers \\cite{DPM\n\\bibliography{refs}\n\\end{document}\n"
    (tmp_path / "paper.tex").write_text(text)
    uri = open_file(ws, tmp_path / "paper.tex", text)
    completion.warm_up(ws, uri, wait=True)
    assert completion.INDEX_TABLES.wait(ws) is None
    held = completion.INDEX_TABLES._table
    assert held is not None and held[1].oversized and not held[1].keys, "no rows are read for a large index"
    offered = [c for c in completion.complete(ws, uri, Pos(2, 17)) if not c.in_bib]
    assert offered and all("dpm" in c.filter_text.lower() for c in offered)


def test_a_table_is_told_apart_from_a_freed_one_whose_id_python_reuses():
    """Caches over tables (completion's sentence relevance) key on `serial`: a table built
    after another was freed often gets the freed one's id, never its serial."""
    seen_ids: dict[int, int] = {}
    reused = 0
    for _ in range(200):
        table = BibTable.of_entries([])
        if id(table) in seen_ids:
            reused += 1
            assert table.serial != seen_ids[id(table)]
        seen_ids[id(table)] = table.serial
        del table
    assert reused, "CPython reuses the memory of a freed table (the case this guards against)"
    assert len(set(seen_ids.values())) == len(seen_ids)
