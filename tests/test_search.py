"""Hybrid search with the real model on a real index file built from the seed digest."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from conftest import EXAMPLES, INDEX_BACKENDS, index_set_back

from citewise.bib.errors import CitewiseError
from citewise.bib.index.embed import Embedder, embed_pending, reembed
from citewise.bib.index.search import Searcher
from citewise.bib.index.store import Index
from citewise.bib.model import Author, Origin, Reference
from citewise.bib.readers import read_path
from citewise.bib.text import strip_markup

EXTRA = [
    Reference(key="vaswani2017attention", title="Attention Is All You Need", authors=[Author("Vaswani", "Ashish")],
              year="2017", abstract="We propose the Transformer, based solely on attention mechanisms.",
              origin=Origin("extra.bib", 1)),
    Reference(key="lu2022dpm", title="DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling",
              authors=[Author("Lu", "Cheng")], year="2022", origin=Origin("extra.bib", 9),
              abstract="A fast dedicated high-order solver for diffusion ODEs with convergence guarantees."),
]


@pytest.fixture(scope="module", params=INDEX_BACKENDS)
def seeded(request, tmp_path_factory, embedder):
    """The digest and two papers, embedded: once in SQLite, once in PostgreSQL."""
    if request.param == "sqlite":
        location = str(tmp_path_factory.mktemp("search") / "index.sqlite")
    else:
        location = request.getfixturevalue("postgres").new_database()
    with Index.open(location) as index:
        index.add_references(read_path(EXAMPLES / "daily-papers-digest.txt").references)
        index.add_references(EXTRA)
        embed_pending(index, embedder)
        yield index


def keys(hits) -> list[str]:
    return [hit.ref.key for hit in hits]


def test_sentence_finds_the_fast_ode_solver_papers(seeded, embedder):
    hits = Searcher(seeded, embedder).search("fast ODE solvers make diffusion sampling cheaper", k=5)
    assert {"DPMSolverV3", "lu2022dpm"} <= set(keys(hits))
    assert hits[0].score >= hits[-1].score
    assert all(hit.dense > 0 for hit in hits[:2])


def test_paraphrase_finds_the_paper(seeded, embedder):
    hits = Searcher(seeded, embedder).search("a sequence model that relies purely on attention, no recurrence", k=3)
    assert keys(hits)[0] == "vaswani2017attention"


def test_latex_markup_in_the_query_is_ignored(seeded, embedder):
    searcher = Searcher(seeded, embedder)
    plain = searcher.search("mixture of experts that stays fair and explainable under drift", k=3)
    latex = searcher.search(r"\emph{Mixture of experts} that stays fair~\cite{x} and explainable under "
                            r"$\mathcal{D}$ drift", k=3)
    assert keys(plain)[0] == keys(latex)[0] == "FEAMOEFairExplainable"


def test_searcher_without_embedder_is_lexical_and_fuzzy_then_switches(seeded, embedder):
    searcher = Searcher(seeded)
    hits = searcher.search("fair explainable mixture of experts", k=3)
    assert keys(hits)[0] == "FEAMOEFairExplainable"
    assert all(hit.dense == 0 for hit in hits)
    searcher.set_embedder(embedder)
    assert any(hit.dense > 0 for hit in searcher.search("fair explainable mixture of experts", k=3))


def test_filters_by_year_source_and_excluded_keys(seeded, embedder):
    searcher = Searcher(seeded, embedder)
    query = "fast ODE solver for diffusion sampling"
    assert keys(searcher.search(query, k=3, year_from=2020)) == ["lu2022dpm"]
    assert keys(searcher.search(query, k=5, year_to=2019)) == ["vaswani2017attention"]
    assert keys(searcher.search(query, k=5, source="extra.bib")) == ["lu2022dpm", "vaswani2017attention"]
    assert "DPMSolverV3" not in keys(searcher.search(query, k=10, exclude_keys={"DPMSolverV3"}))


def test_fuzzy_candidates_match_key_prefix_author_typo_and_year(seeded):
    searcher = Searcher(seeded)
    assert keys(searcher.fuzzy_candidates("vaswani20"))[0] == "vaswani2017attention"
    assert keys(searcher.fuzzy_candidates("Vasvani"))[0] == "vaswani2017attention"
    assert keys(searcher.fuzzy_candidates("lu 2022"))[0] == "lu2022dpm"
    assert "DCSolverImproving" in keys(searcher.fuzzy_candidates("predictor corrector"))[:3]


def test_typed_words_fill_the_fuzzy_candidates_before_the_words_a_prefix_stands_for(index_location):
    """The words as typed come first; longer words the last one begins are read only to fill the
    limit (a common prefix's postings cost tens of ms at 1M papers). The papers holding only a
    longer word are added first, so a lookup in row order would return them first."""
    longer = [Reference(key=f"longer{n}", title=f"Generic username handling {n}", year="2020") for n in range(3)]
    typed = [Reference(key=f"typed{n}", title=f"Generic user models {n}", year="2021") for n in range(5)]
    other = [Reference(key="other", title="Specific user models", year="2022")]
    with Index.open(index_location) as index:
        index.add_references(longer + typed + other)
        ids = {key: index.ids_for_keys([key]).pop() for key in [ref.key for ref in longer + typed + other]}
        typed_ids = {ids[ref.key] for ref in typed}
        longer_ids = {ids[ref.key] for ref in longer}
        assert index.word_prefix_ids(["generic", "user"], True, 5) == typed_ids
        assert index.word_prefix_ids(["generic", "user"], False, 8) == typed_ids
        assert index.word_prefix_ids(["generic", "user"], True, 8) == typed_ids | longer_ids
        filled = index.word_prefix_ids(["generic", "user"], True, 7)
        assert len(filled) == 7 and typed_ids < filled < typed_ids | longer_ids
        assert index.word_prefix_ids(["generic", "use"], True, 20) == typed_ids | longer_ids
        assert index.word_prefix_ids(["generic", "use"], False, 20) == set()


def test_only_new_or_changed_references_are_embedded(index_location, embedder):
    with Index.open(index_location) as index:
        index.add_references(EXTRA)
        assert embed_pending(index, embedder) == 2
        assert embed_pending(index, embedder) == 0
        index.add_references([Reference(key="x", title="Attention Is All You Need", authors=[Author("Vaswani")],
                                        year="2017", journal="NeurIPS")])
        assert embed_pending(index, embedder) == 0, "a venue is not embedded text"
        changed = Reference(key="y", title="Attention Is All You Need", authors=[Author("Vaswani")], year="2017",
                            abstract="We propose the Transformer, based solely on attention mechanisms, "
                                     "dispensing with recurrence and convolutions entirely.")
        index.add_references([changed])
        assert index.stats()["needs_embedding"] == 1
        assert embed_pending(index, embedder) == 1
        assert index.stats()["embedded"] == 2


def test_pending_papers_are_embedded_a_window_at_a_time(index_location, embedder, monkeypatch, tmp_path):
    """Windows of 7 rows (of 77 papers): every paper gets the vector one pass over all of them gives."""
    from citewise.bib.index import embed

    refs = read_path(EXAMPLES / "daily-papers-digest.txt").references + EXTRA
    whole = tmp_path / "whole.sqlite"
    with Index.open(whole) as index:
        index.add_references(refs)
        embed_pending(index, embedder)
        expected = dict(zip(*index.load_embeddings(embedder.dimension)))
    monkeypatch.setattr(embed, "PENDING_WINDOW", 7)
    progress: list[tuple[int, int]] = []
    with Index.open(index_location) as index:
        index.add_references(refs)
        assert index.pending_count() == len(expected)
        assert embed_pending(index, embedder, lambda done, total: progress.append((done, total))) == len(expected)
        assert index.pending_count() == 0
        by_key = {ref.key: row_id for row_id, (ref, _) in index.get_by_ids(range(1, 10_000)).items()}
        row_ids, matrix = index.load_embeddings(embedder.dimension)
    with Index.open(whole, read_only=True) as index:
        whole_ids = {ref.key: row_id for row_id, (ref, _) in index.get_by_ids(range(1, 10_000)).items()}
    stored = dict(zip(row_ids.tolist(), matrix))
    for key, row_id in by_key.items():
        assert np.allclose(stored[row_id], expected[whole_ids[key]], atol=2e-3), key
    assert len(progress) >= 11 and progress[-1] == (len(expected), len(expected))


def test_model_mismatch_points_to_reembed(index_location, embedder):
    with Index.open(index_location) as index:
        index.add_references(EXTRA)
        index.set_model("some/other-model", 768)
        with pytest.raises(CitewiseError, match="citewise index reembed"):
            embed_pending(index, embedder)
        with pytest.raises(CitewiseError, match="citewise index reembed"):
            Searcher(index, embedder)
        assert reembed(index, embedder) == 2
        assert index.get_meta("model") == embedder.name
        assert Searcher(index, embedder).search("attention transformer", k=1)[0].ref.key == "vaswani2017attention"


def test_missing_model_is_a_one_line_error(tmp_path):
    with pytest.raises(CitewiseError, match="cannot load embedding model") as raised:
        Embedder.load(str(tmp_path / "no-such-model"))
    assert "\n" not in str(raised.value)


def test_encoding_leaves_the_blas_thread_count_alone(embedder):
    """The thread count is process-wide: encoding must not flip it under a concurrent batch."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(3, user_api="blas"):
        embedder.encode(["a query"])
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {3}
        embedder.encode_documents(["a paper title", "another paper"])
        assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {3}


def test_first_load_of_a_process_sets_the_thread_count_once():
    """The first load names the process's thread count (the BERT encoder's batches at once) and
    holds BLAS to one thread; a later load keeps both, and torch is never imported."""
    import subprocess
    import sys

    script = ("import sys; from threadpoolctl import threadpool_info; from citewise.bib.index.embed import Embedder; "
              "first = Embedder.load(threads=2); second = Embedder.load(threads=1); "
              "print(first.model.threads, second.model.threads, "
              "sorted({pool['num_threads'] for pool in threadpool_info() if pool['user_api'] == 'blas'}), "
              "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2", "2", "[1]", "False"]


def test_nearest_and_vectors_of_read_the_stored_vectors(seeded, embedder):
    """What the suggestions' ranking reads: the papers closest to any vector, chosen rows' vectors,
    and the query's embedding, computed once for the search and the ranking."""
    searcher = Searcher(seeded, embedder)
    query_text = "fast ODE solvers make \\emph{diffusion} sampling cheaper"
    hits = searcher.search(query_text, k=3)
    query = searcher.query_vector(query_text)
    assert searcher.query_vector(query_text) is query, "the search's embedding is reused"
    assert np.allclose(query, embedder.encode([strip_markup(query_text)])[0], atol=1e-5)
    found = searcher.nearest(3 * query, 5)  # any length: cosine
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True) and hits[0].row_id in [row for row, _ in found]
    ids = sorted(seeded.ids_for_keys(seeded.all_keys()))
    everything = searcher.vectors_of(ids + [10**9])
    assert everything.shape == (len(ids) + 1, embedder.dimension) and not everything[-1].any()
    exact = np.asarray(ids)[np.argsort(-(everything[:-1] @ query))[:5]]
    assert [row for row, _ in found] == exact.tolist()
    assert np.allclose(everything[:-1][np.searchsorted(ids, exact)] @ query, scores, atol=0.01)


def test_a_source_filter_among_given_rows_reads_those_rows_only(seeded):
    """The ranking's Zotero flag asks for the rows it ranks, not for every row of the index."""
    everything = seeded.filtered_ids(None, None, "extra.bib")
    some = sorted(seeded.ids_for_keys(["lu2022dpm", "vaswani2017attention"]))[:1] + [1, 2, 3]
    assert len(everything) == 2 and seeded.filtered_ids(None, None, "extra.bib", among=some) == everything & set(some)
    assert seeded.filtered_ids(2020, None, None, among=[]) == set()


def test_an_author_typo_is_found_among_thousands_of_names_by_indexed_lookups_only(tmp_path):
    """A family name one typo away (wrong, missing, added or swapped letter) is found through the
    deletion-variant table; every statement is an index search, never a scan of the names. An
    index written before that table (schema 6) gets it on opening."""
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "vo", "ri", "ze", "pa"]
    families = sorted({a + b + c + d for a in syllables for b in syllables for c in syllables for d in syllables[:3]})
    refs = [Reference(key=f"p{n}", title=f"Paper number {n}", authors=[Author(family.capitalize(), "A.")], year="2020")
            for n, family in enumerate(families)]
    refs.append(Reference(key="vaswani2017attention", title="Attention Is All You Need",
                          authors=[Author("Vaswani", "Ashish")], year="2017"))
    location = tmp_path / "index.sqlite"
    index_set_back(location, refs, 6, "DELETE FROM family_variants")
    with Index.open(location) as index:
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        for typo in ("vasvani", "vaswnai", "vawani", "vasswani"):
            found = index.similar_author_ids([typo], 10)
            assert [ref.key for ref, _ in index.get_by_ids(found).values()] == ["vaswani2017attention"], typo
        assert index.similar_author_ids(["vzzzani"], 10) == set()
        index.db.set_trace_callback(None)
        plans = [detail for sql in statements for *_, detail in index.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert plans and all(not detail.startswith("SCAN") for detail in plans), plans


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_an_author_typo_on_postgresql_reads_names_not_every_paper_of_a_name(postgres, monkeypatch):
    """pg_trgm matches the distinct family names (schema 5), so a typo of a common name reads one
    row per name and then at most the papers asked for, however many papers the name has. An
    index written before that table gets it on opening."""
    location = postgres.new_database()
    refs = [Reference(key=f"garcia{n}", title=f"Paper number {n}", authors=[Author("Garcia", "Ana")], year="2020")
            for n in range(300)]
    refs.append(Reference(key="vaswani2017attention", title="Attention Is All You Need",
                          authors=[Author("Vaswani", "Ashish")], year="2017"))
    with Index.open(location) as index:
        index.add_references(refs)
        index.db.execute("DROP TABLE families")
        index.db.execute("UPDATE meta SET value = '4' WHERE name = 'schema_version'")
    with Index.open(location) as index:
        statements: list[tuple[str, tuple]] = []
        execute = index.db.execute

        def recording(sql: str, params=()):
            statements.append((sql, tuple(params)))
            return execute(sql, params)

        monkeypatch.setattr(index.db, "execute", recording)
        found = index.similar_author_ids(["vasvani"], 10)
        assert [ref.key for ref, _ in index.get_by_ids(found).values()] == ["vaswani2017attention"]
        statements.clear()
        assert len(index.similar_author_ids(["garcai"], 10)) == 10
        monkeypatch.undo()
        for sql, params in statements:
            plan = index.db.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()[0][0]["Plan"]
            read = [node["Actual Rows"] * node["Actual Loops"] for node in _plan_nodes(plan) if node.get("Relation Name") == "refs"]
            assert all(rows <= 10 for rows in read), (sql, read)


def test_a_mistyped_key_finds_its_near_keys_by_indexed_lookups_among_thousands(index_location, monkeypatch):
    """Hover and code actions on an unknown key compare it with the keys `keys_like` gives: those
    sharing its longest prefix and those of first authors a typo from its name, each found by an
    index (SQLite: every plan a SEARCH; PostgreSQL: no statement reads more rows than its lookups
    asked for, of the 3,300 papers)."""
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "vo", "ri", "ze", "pa"]
    families = sorted({a + b + c + d for a in syllables for b in syllables for c in syllables for d in syllables[:2]})
    refs = [Reference(key=f"{family}{2000 + n % 20}paper", title=f"Paper number {n}", authors=[Author(family.capitalize(), "A.")],
                      year=str(2000 + n % 20)) for n, family in enumerate(families)]
    refs += [Reference(key=f"vaswani{2000 + n}study", title=f"Study {n}", authors=[Author("Vaswani", "B.")], year=str(2000 + n))
             for n in range(300)]
    refs.append(Reference(key="vaswani2017attention", title="Attention Is All You Need",
                          authors=[Author("Vaswani", "Ashish")], year="2017"))
    with Index.open(index_location) as index:
        index.add_references(refs)
        statements: list[tuple[str, tuple]] = []
        on_sqlite = hasattr(index.db, "set_trace_callback")
        if on_sqlite:
            index.db.set_trace_callback(lambda sql: statements.append((sql, ())))
        else:
            execute = index.db.execute
            monkeypatch.setattr(index.db, "execute", lambda sql, params=(): statements.append((sql, tuple(params))) or execute(sql, params))
        for typo in ("vaswani2017atention", "vasawni2017attention", "vaswani2017attnetion", "vswani2017attention",
                     "Vasvani2017attention", "Vaßwani2017attention"):  # ß folds to two letters
            near = index.keys_like(typo, limit=50)
            assert "vaswani2017attention" in near and len(near) <= 150, (typo, len(near))
        assert index.keys_like("zz", limit=50) == []
        if on_sqlite:
            index.db.set_trace_callback(None)
            plans = [detail for sql, _ in statements for *_, detail in index.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            assert plans and all(not detail.startswith("SCAN") for detail in plans), plans
        else:
            monkeypatch.undo()
            for sql, params in statements:
                plan = index.db.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()[0][0]["Plan"]
                read = [node["Actual Rows"] * node["Actual Loops"] for node in _plan_nodes(plan) if node.get("Relation Name") == "refs"]
                assert all(rows <= 6 * 50 for rows in read), (sql, read)  # a prefix's rows, five names' rows


def test_a_common_word_is_counted_only_as_far_as_the_term_choice_needs(seeded, embedder, monkeypatch):
    """Long queries keep their rarest words up to a budget of papers. With an embedder a word over
    the budget is never kept, so its papers are counted only to just past it (a word in half of a
    1M index took 55 ms to count in full); the words kept are those exact counts would keep."""
    from citewise.bib.index import search as search_module

    exact = {term: seeded.papers_with(term) for term in ("diffusion", "model", "solver", "attention")}
    assert exact["diffusion"] > 6
    assert seeded.papers_with("diffusion", at_most=6) == 6
    assert seeded.papers_with("diffusion", at_most=exact["diffusion"] + 5) == exact["diffusion"]
    monkeypatch.setattr(search_module, "LEXICAL_POSTINGS_BUDGET", 6)
    expected, postings = [], 0
    for term in sorted(exact, key=exact.__getitem__):
        postings += exact[term]
        if postings > 6:
            break
        expected.append(term)
    assert expected and Searcher(seeded, embedder)._selective(list(exact)) == expected
    assert Searcher(seeded)._selective(list(exact)) == expected


def test_fuzzy_candidates_rank_among_as_many_papers_per_lookup_as_asked(seeded):
    """Completion's fallback while the index table is built asks for few candidates: each paper
    read is a SQLite step that hands the GIL to the thread building the table."""
    everything = Searcher(seeded).fuzzy_candidates("diffusion", k=50)
    few = Searcher(seeded).fuzzy_candidates("diffusion", k=50, candidates=2)
    assert len(everything) > 4 and 0 < len(few) <= 4  # the key prefix and the word lookups, 2 each
    assert {hit.ref.key for hit in few} <= {hit.ref.key for hit in everything}


def test_a_limited_search_reads_its_papers_once_until_the_index_changes(index_location):
    """Searches with the same limits (an agent's, a batch's) read the allowed papers once (120–385 ms
    at 1M papers); a write to the index, by another connection here, is seen by the next search."""
    with Index.open(index_location) as index, Index.open(index_location) as other:
        index.add_references([Reference(key="old2019", title="Sparse attention for long documents", year="2019"),
                              Reference(key="new2021", title="Sparse attention for long videos", year="2021")])
        searcher = Searcher(index)
        statements: list[str] = []
        if isinstance(index.db, sqlite3.Connection):
            index.db.set_trace_callback(statements.append)
        assert keys(searcher.search("sparse attention", year_from=2020)) == ["new2021"]
        assert keys(searcher.search("attention for long", year_from=2020)) == ["new2021"]
        assert set(keys(searcher.search("sparse attention", year_from=2018))) == {"old2019", "new2021"}
        if isinstance(index.db, sqlite3.Connection):
            index.db.set_trace_callback(None)
            assert sum("year >= " in sql for sql in statements) == 2, statements
        other.add_references([Reference(key="newer2023", title="Sparse attention for long audio", year="2023")])
        assert set(keys(searcher.search("sparse attention", year_from=2020))) == {"new2021", "newer2023"}


def test_a_limited_dense_search_returns_the_nearest_papers_within_its_limits(index_location):
    """The dense signal of a search limited to years returns the nearest papers within them, best
    first, whether many or few papers are within them. PostgreSQL puts the limits in its HNSW
    index's scan and reads no paper's id when enough papers meet them (the ids of the papers since
    2010 were 1.2M at 3M papers, sent with each search); few papers are scored by their ids."""
    from vector_support import DIMENSION, papers, unit_vectors

    from citewise.bib.index.sqlite_queries import Limits

    with Index.open(index_location) as index:
        index.add_references(papers(0, 150, "graphs", "2019") + papers(150, 150, "graphs", "2022")
                             + papers(300, 3, "graphs", "2024"))
        row_ids = [index.ids_for_keys([f"p{number}"]).pop() for number in range(303)]
        years = [2019] * 150 + [2022] * 150 + [2024] * 3
        vectors = unit_vectors(303, seed=3)
        index.set_model("test/vectors", DIMENSION)
        index.store_embeddings(row_ids, vectors)
        query = unit_vectors(1, seed=4)[0]
        order = np.argsort(-(vectors @ query), kind="stable")

        def exact(year_from: int, count: int) -> list[int]:
            return [row_ids[n] for n in order.tolist() if years[n] >= year_from][:count]

        broad = index.dense_candidates(query, 10, Limits(year_from=2020))  # 153 papers
        assert {row for row, _ in broad} == set(exact(2020, 10))
        assert [score for _, score in broad] == sorted((score for _, score in broad), reverse=True)
        if not isinstance(index.db, sqlite3.Connection):
            assert index._limited is None, "PostgreSQL read no paper's id"
        narrow = index.dense_candidates(query, 10, Limits(year_from=2024))  # 3 papers: fewer than asked
        assert [row for row, _ in narrow] == exact(2024, 3)
        assert index.dense_candidates(query, 10, Limits(year_from=2030)) == []


def test_postgresql_takes_a_common_words_paper_count_from_its_statistics(postgres):
    """Counting the papers of a word reads their rows (a paragraph's 48 words took 650 ms at 100k
    papers), so with a bound, a word among the most common ones in ANALYZE's statistics is not
    counted: its share of the sampled rows stands in, read again after the next ANALYZE. A rare
    word is counted, and so is any word without a bound."""
    location = postgres.new_database()
    with Index.open(location) as index:
        index.db.execute("ALTER TABLE refs SET (autovacuum_enabled = false)")  # ANALYZE only when the test says
        index.add_references([Reference(key=f"g{n}", title=f"Graph paper {n}", year="2020") for n in range(200)]
                             + [Reference(key=f"o{n}", title=f"Other paper {n}", year="2020") for n in range(99)]
                             + [Reference(key="q1", title="A lone quantum paper", year="2020")])
        index.db.execute("ANALYZE refs")
        index.add_references([Reference(key=f"h{n}", title=f"Graph paper again {n}", year="2021") for n in range(100)])
        assert index.papers_with("graph", 1000) == 200, "the statistics, which the last 100 papers postdate"
        assert index.papers_with("graph", 150) == 150
        assert index.papers_with("graph") == 300, "without a bound: counted"
        assert index.papers_with("quantum", 1000) == 1
        index.db.execute("ANALYZE refs")
        assert index.papers_with("graph", 1000) == 300, "read again after ANALYZE"


def test_a_search_limited_to_years_passes_over_papers_without_a_year(index_location):
    """A year like 'n.d.' or 'in press' is neither before nor after any year, and never an error."""
    with Index.open(index_location) as index:
        index.add_references([Reference(key="undated", title="Sparse attention undated", year="n.d."),
                              Reference(key="pressed", title="Sparse attention in press", year="in press"),
                              Reference(key="new2021", title="Sparse attention for videos", year="2021")])
        searcher = Searcher(index)
        assert keys(searcher.search("sparse attention", year_from=2000)) == ["new2021"]
        assert keys(searcher.search("sparse attention", year_to=2030)) == ["new2021"]
        index.add_references([Reference(key="march2022", title="Sparse attention in spring", year="2022-03")])
        assert set(keys(searcher.search("sparse attention", year_from=2022))) == {"march2022"}
        assert set(keys(searcher.search("sparse attention", year_from=2021, year_to=2022))) == {"new2021", "march2022"}
        assert set(keys(searcher.search("sparse attention", year_to=2021))) == {"new2021"}
        assert set(keys(searcher.search("sparse attention", year_to=9999))) == {"new2021", "march2022"}


def test_on_postgresql_a_searchs_word_signals_query_a_connection_of_their_own(postgres):
    """The word signals run beside the dense signal; on one connection their queries waited for
    each other (100k papers: 74 ms p50 for a sentence's signals, 34 on two connections). The
    second connection is opened once, on first use, and closed with the index."""
    import psycopg

    location = postgres.new_database()
    with Index.open(location) as index:
        index.add_references([Reference(key="new2021", title="Sparse attention for long videos", year="2021")])
        searcher = Searcher(index)
        assert keys(searcher.search("sparse attention")) == ["new2021"]
        reader = index.concurrent_reader()
        assert reader is not index and index.concurrent_reader() is reader
        backends = {connection.db.execute("SELECT pg_backend_pid()").fetchone()[0] for connection in (index, reader)}
        assert len(backends) == 2
        reader.db.close()  # the word signals fail with it: they query it, not the index's own connection
        with pytest.raises(psycopg.OperationalError):
            searcher.search("sparse attention")
    with Index.open(location) as index:
        reader = index.concurrent_reader()
    assert reader.db.connection.closed, "closed with the index"


def test_on_sqlite_a_searchs_word_signals_share_its_connection(tmp_path):
    """SQLite's dense signal is numpy's and usearch's work: no second connection."""
    with Index.open(tmp_path / "index.sqlite") as index:
        assert index.concurrent_reader() is index
