"""Citation links in the index: stored from Crossref's reference lists by enrichment, asked for
co-citation and "papers that cite what you cite", on SQLite and PostgreSQL, and used by the
suggestion ranking."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import immutable
from registry_support import make_registries, registry, registry_server  # noqa: F401 (fixtures)

from citewise.bib.index.citation_links import link_identifier
from citewise.bib.index.store import Index
from citewise.bib.model import Reference
from citewise.bib.registries.enrich import enrich_index


def _papers() -> list[Reference]:
    return [
        Reference(key="alpha", title="Alpha paper on sparse attention", doi="10.1000/ALPHA", year="2020"),
        Reference(key="beta", title="Beta paper on long documents", arxiv="2101.00001v2", year="2021"),
        Reference(key="gamma", title="Gamma paper on retrieval", doi="10.1000/gamma", year="2019"),
        Reference(key="delta", title="Delta survey citing alpha and beta", year="2022"),
        Reference(key="eps", title="Epsilon study citing alpha and gamma", year="2023"),
    ]


@pytest.fixture
def linked(index_location):
    index = Index.open(index_location)
    index.add_references(_papers())
    assert index.set_cited("delta", [link_identifier(doi="https://doi.org/10.1000/Alpha"),
                                     link_identifier(arxiv="arXiv:2101.00001"), "10.9999/not-in-the-index"]) == 3
    assert index.set_cited("eps", ["10.1000/alpha", "10.1000/gamma", ""]) == 2
    yield index
    index.close()


def _rows(index: Index, *keys: str) -> dict[str, int]:
    return {key: row for key, row in zip(keys, index.row_ids_for([Reference(key=key) for key in keys]))}


def test_co_citation_and_citing_papers_on_both_backends(linked):
    rows = _rows(linked, "alpha", "beta", "gamma", "delta", "eps")
    assert linked.cited_by("delta") == ["10.1000/alpha", "10.9999/not-in-the-index", "arxiv:2101.00001"]
    assert linked.link_counts() == (5, 2)  # `index stats`: links, and papers whose reference lists they are
    assert dict(linked.cited_with([rows["alpha"]])) == {rows["beta"]: 1, rows["gamma"]: 1}
    assert dict(linked.cited_with([rows["alpha"]], excluded=[rows["delta"]])) == {rows["gamma"]: 1}
    assert dict(linked.cited_with([rows["alpha"], rows["gamma"]])) == {rows["beta"]: 1}
    assert dict(linked.citing([rows["alpha"], rows["gamma"]])) == {rows["delta"]: 1, rows["eps"]: 2}
    assert dict(linked.citing([rows["delta"]])) == {}


def test_links_are_replaced_and_go_with_their_paper(linked):
    rows = _rows(linked, "alpha", "beta", "gamma")
    revision = linked.revision()
    assert linked.set_cited("delta", ["10.1000/gamma"]) == 1
    assert linked.revision() > revision  # caches keyed by the revision see the change
    assert dict(linked.cited_with([rows["gamma"]])) == {rows["alpha"]: 1}
    linked.delete("eps")
    assert dict(linked.citing([rows["alpha"], rows["gamma"]])) == {_rows(linked, "delta")["delta"]: 1}
    assert linked.set_cited("no-such-key", ["10.1000/alpha"]) == 0


def test_an_index_of_the_schema_before_gets_the_links_table(tmp_path):
    path = tmp_path / "old.sqlite"
    Index.open(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE citations")
    db.execute("PRAGMA user_version=5")
    db.commit()
    db.close()
    with Index.open(path) as index:
        index.add_references(_papers()[:1])
        assert index.set_cited("alpha", ["10.1000/other"]) == 1


def test_enrichment_stores_the_reference_list_crossref_gives(tmp_path, registry):
    with Index.open(tmp_path / "index.sqlite") as index:
        index.add_references([Reference(key="elife", title="Dissecting the circuit", doi="10.7554/eLife.01567")])
        summary = enrich_index(index, make_registries(registry))
        assert summary.enriched == 1
        cited = index.cited_by("elife")
    assert len(cited) == 27  # the recorded answer's reference list: 27 entries, each with a DOI
    assert all(identifier.startswith("10.") for identifier in cited)


DRAFT = r"""\documentclass{article}
\title{Graph Kernels for Molecules}
\begin{document}
\maketitle
Sparse attention scales transformers to long inputs \cite{a}.

Molecular property prediction has relied on handcrafted fingerprints for decades.
\bibliography{refs}
\end{document}
"""


def test_suggestions_rank_what_the_index_cites_with_the_drafts_papers(tmp_path):
    from features_support import open_file, position_of

    from citewise.server.features import ranking
    from citewise.server.features.settings import Settings
    from citewise.server.features.workspace import Workspace

    with Index.open(tmp_path / "index.sqlite") as index:
        index.add_references([
            Reference(key="a", title="Sparse attention for long sequences", doi="10.1000/a", year="2020"),
            Reference(key="b", title="Protein folding with deep networks", doi="10.1000/b", year="2021"),
            Reference(key="c", title="A survey of efficient models", doi="10.1000/c", year="2022"),
            Reference(key="own", title="Graph Kernels for Molecules", year="2024"),
        ])
        index.set_cited("c", ["10.1000/a", "10.1000/b"])
        index.set_cited("own", ["10.1000/a", "10.1000/b", "10.1000/c"])
        rows = _rows(index, "a", "b", "c", "own")
    (tmp_path / "refs.bib").write_text("@article{a,\n  title = {Sparse attention for long sequences},\n"
                                       "  doi = {10.1000/a},\n  year = {2020}\n}\n", encoding="utf-8")
    (tmp_path / "paper.tex").write_text(DRAFT, encoding="utf-8")
    ws = Workspace([str(tmp_path)], Settings(index_path=str(tmp_path / "index.sqlite")))
    uri = open_file(ws, tmp_path / "paper.tex")
    for state in ws.bib_states_for(uri):
        assert state.file.fields_ready.wait(60)
    document = ws.document(uri)
    offset = document.lines.offset_of(position_of(DRAFT, "for decades", 11))
    weights = {**ranking.WEIGHTS, "linked_cocited": 3.0, "cites_cited": 2.0}
    found = ranking.rank(ws, document, offset, weights)
    by_row = {candidate.row_id: candidate for candidate in found.candidates}
    assert rows["own"] not in by_row  # the draft's own paper: never suggested, its references no evidence
    assert by_row[rows["b"]].features["linked_cocited"] == 0.5  # cited with `a` by c alone
    assert by_row[rows["c"]].features["cites_cited"] == 0.5  # c cites `a`, which the draft cites
    assert found.candidates[0].row_id == rows["b"]
    assert ranking.reason(found.candidates[0], weights).startswith("1 paper in your index cites it with papers you cite")
    ranked_without = ranking.rank(ws, document, offset)  # the shipped weights
    assert {c.row_id for c in ranked_without.candidates} == set(by_row)


def test_stats_count_links_and_a_read_only_index_from_before_links_has_none(tmp_path, capsys):
    from citewise.server.cli import main

    path = tmp_path / "index.sqlite"
    with Index.open(path) as index:
        index.add_references(_papers())
        index.set_cited("delta", ["10.1000/alpha", "arxiv:2101.00001"])
        rows = _rows(index, "alpha")
    assert main(["index", "stats", "--index", str(path)]) == 0
    assert "citations   2 links from 1 paper's reference list" in capsys.readouterr().out
    db = sqlite3.connect(path)
    db.execute("DROP TABLE citations")
    db.execute("PRAGMA user_version=5")
    db.commit()
    db.close()
    with immutable(path), Index.open(path, read_only=True) as old:  # where it cannot be migrated
        assert dict(old.citing([rows["alpha"]])) == {} and old.stats()["citation_links"] == 0
        assert old.db.execute("PRAGMA user_version").fetchone()[0] == 5
    assert main(["index", "stats", "--index", str(path)]) == 0
    assert "citations" not in capsys.readouterr().out
