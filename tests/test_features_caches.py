"""Each workspace cache is keyed by what it depends on: a change to the index or a .bib shows up."""

from __future__ import annotations

import dataclasses
import os
import time

from features_support import build_index, make_workspace, open_file, position_of

from citewise.bib.index.store import Index
from citewise.server.features import completion, cursor_query

DOI = "10.1234/genhpf.2024"


def _complete(ws, tmp_path, typed: str):
    text = f"Healthcare prediction works across hospitals \\cite{{{typed}}}.\n\\bibliography{{refs}}\n"
    uri = open_file(ws, tmp_path / "paper.tex", text)
    return completion.complete(ws, uri, position_of(text, "\\cite{" + typed, len("\\cite{" + typed)))


def test_a_doi_added_to_the_index_by_another_process_shows_in_completion(tmp_path):
    index_path = build_index(tmp_path / "index.sqlite")
    ws = make_workspace(tmp_path, index_path)
    before = next(c for c in _complete(ws, tmp_path, "genhpf") if c.key == "GenHPFGeneralHealthcare")
    assert DOI not in before.documentation_md

    with Index.open(index_path) as other:  # a Zotero sync, another connection
        ref = other.get("GenHPFGeneralHealthcare")
        other.add_references([dataclasses.replace(ref, doi=DOI)])

    after = next(c for c in _complete(ws, tmp_path, "genhpf") if c.key == "GenHPFGeneralHealthcare")
    assert DOI in after.documentation_md
    assert DOI in (completion.documentation(ws, open_file(ws, tmp_path / "paper.tex"), after.key) or "")


def test_context_hits_follow_the_index_revision(tmp_path):
    index_path = build_index(tmp_path / "index.sqlite")
    ws = make_workspace(tmp_path, index_path)
    query = "editing the factual knowledge stored in a large language model"
    first, _ = cursor_query.context_hits(ws, query)
    with Index.open(index_path) as other:  # `citewise index` in another process
        other.delete(first[0].ref.key)
    second, _ = cursor_query.context_hits(ws, query)
    assert first[0].ref.key not in [hit.ref.key for hit in second]


def test_a_bib_entry_renamed_on_disk_shows_in_completion(tmp_path):
    ws = make_workspace(tmp_path, None)
    assert any(c.key == "unusedEntry2020" for c in _complete(ws, tmp_path, "unused"))
    bib = tmp_path / "refs.bib"
    bib.write_text(bib.read_text().replace("unusedEntry2020", "renamedEntry2020"))
    os.utime(bib, (time.time() + 5, time.time() + 5))
    ws.bib_state(str(bib))  # the first use after the change starts the re-read
    ws.wait_for_reloads()
    keys = [c.key for c in _complete(ws, tmp_path, "")]
    assert "renamedEntry2020" in keys and "unusedEntry2020" not in keys
