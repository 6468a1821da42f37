"""The index on real SQLite files and real PostgreSQL databases: deduplication, re-ingest, transactions, schema, locks.

Tests taking `index` run once per backend (conftest `index_location`)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from conftest import EXAMPLES, immutable, index_set_back

from citewise.bib.errors import CitewiseError
from citewise.bib.index.sqlite_schema import SCHEMA_VERSION
from citewise.bib.index.store import Index
from citewise.bib.model import Author, Origin, Reference
from citewise.bib.readers import read_path
from citewise.bib.text import strip_markup


def paper(key: str, title: str, **fields) -> Reference:
    fields.setdefault("origin", Origin("test.bib", 1))
    return Reference(key=key, title=title, **fields)


@pytest.fixture
def index(index_location):
    with Index.open(index_location) as opened:
        yield opened


def test_new_file_gets_current_schema_and_wal(tmp_path):
    path = tmp_path / "index.sqlite"
    Index.open(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_seed_digest_ingests_75_papers_and_reingest_is_idempotent(index):
    refs = read_path(EXAMPLES / "daily-papers-digest.txt").references
    first = index.add_references(refs)
    assert (first.added, first.updated, first.skipped) == (75, 0, 0)
    keys_before = index.all_keys()
    second = index.add_references(read_path(EXAMPLES / "daily-papers-digest.txt").references)
    assert (second.added, second.updated, second.skipped) == (0, 0, 75)
    assert index.all_keys() == keys_before
    assert index.count() == 75


def test_same_doi_merges_and_keeps_richer_fields(index):
    index.add_references([paper("smith2020graph", "Graph Networks", doi="10.1000/ABC", year="2020")])
    summary = index.add_references([
        paper("other", "Graph networks", doi="https://doi.org/10.1000/abc",
              abstract="A long abstract about graph networks.", journal="JMLR", origin=Origin("zotero", None))
    ])
    assert (summary.added, summary.updated) == (0, 1)
    stored = index.get("smith2020graph")
    assert stored.abstract == "A long abstract about graph networks."
    assert stored.journal == "JMLR" and stored.year == "2020"
    assert index.all_keys() == ["smith2020graph"]
    assert index.stats()["sources"] == {"test.bib": 1, "zotero": 1}


def test_a_merged_papers_other_key_still_finds_it(index):
    """A .bib key for a paper first read from a digest: drafts cite it by that key."""
    index.add_references([paper("GraphNetworks", "Graph Networks", doi="10.1000/abc")])
    index.add_references([paper("smith2020graph", "Graph Networks", doi="10.1000/abc", year="2020")])
    assert index.all_keys() == ["GraphNetworks"]
    under_alias = index.get("smith2020graph")
    assert under_alias.key == "smith2020graph" and under_alias.year == "2020"
    assert index.get_many(["GraphNetworks", "smith2020graph"]).keys() == {"GraphNetworks", "smith2020graph"}
    assert index.ids_for_keys(["smith2020graph"]) == index.ids_for_keys(["GraphNetworks"])
    index.add_references([paper("smith2020graph", "Unrelated Paper On Other Things")])
    assert "smith2020grapha" in index.all_keys()


def test_same_arxiv_id_merges(index):
    index.add_references([paper("a", "Denoising Diffusion Probabilistic Models", arxiv="2006.11239")])
    index.add_references([paper("b", "DDPM", arxiv="arXiv:2006.11239v2", year="2020")])
    assert index.all_keys() == ["a"]
    assert index.get("a").year == "2020"


def test_near_identical_title_with_same_first_author_and_year_merges(index):
    lu = [Author("Lu", "Cheng")]
    index.add_references([paper("lu2022", "DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling in "
                                          "Around 10 Steps", authors=lu, year="2022")])
    index.add_references([paper("lu2022b", "DPM-solver: a fast ODE solver for diffusion probabilistic model sampling "
                                           "in around 10 step", authors=[Author("Lu", "C.")], year="2022",
                                doi="10.5555/dpm")])
    assert index.all_keys() == ["lu2022"]
    assert index.get("lu2022").doi == "10.5555/dpm"
    assert index.find_duplicate(paper("x", "DPM Solver a fast ODE solver for diffusion probabilistic model "
                                           "sampling in around 10 steps", authors=lu, year="2022")) == "lu2022"


def test_similar_titles_by_other_authors_or_years_stay_apart(index):
    title = "Learning Representations for Citation Recommendation"
    index.add_references([
        paper("a", title, authors=[Author("Ahn", "Ann")], year="2020"),
        paper("b", title + "s", authors=[Author("Bo", "Bea")], year="2020"),
        paper("c", title, authors=[Author("Ahn", "Ann")], year="2021"),
        paper("d", "Graph networks", doi="10.1/one"),
        paper("e", "Graph networks", doi="10.1/two"),
    ])
    assert index.all_keys() == ["a", "b", "c", "d", "e"]


def test_key_taken_by_another_paper_gets_a_suffix(index):
    index.add_references([paper("smith2020", "First paper"), paper("smith2020", "Second paper")])
    assert index.all_keys() == ["smith2020", "smith2020a"]
    assert index.get("smith2020a").title == "Second paper"


def test_suffixes_go_past_two_letters_as_for_formula_keys(index):
    refs = [Reference(key="k", title=f"Paper number {i} on a topic", year=str(1900 + i % 100)) for i in range(705)]
    summary = index.add_references(refs)
    assert summary.added == 705 and summary.failed == 0
    keys = {row[0] for row in index.db.execute("SELECT key FROM refs")}
    assert {"k", "ka", "kz", "kaa", "kzz", "kaaa", "kaab"} <= keys


def test_an_accented_and_an_ascii_spelling_of_an_author_are_one_paper(index):
    """Deduplication folds names as key generation does: Ødegård is odegard, not degard."""
    index.add_references([Reference(key="a", title="Fjord circulation in winter", authors=[Author("Ødegård", "Ø.")],
                                    year="2019")])
    summary = index.add_references([Reference(key="b", title="Fjord Circulation in Winter.",
                                              authors=[Author("Odegard", "O.")], year="2019")])
    assert summary.added == 0 and index.count() == 1


def test_old_index_gets_its_matching_columns_folded_again(tmp_path):
    path = tmp_path / "old.sqlite"
    with Index.open(path) as index:
        index.add_references([Reference(key="a", title="Fjord circulation in winter", authors=[Author("Ødegård")],
                                        year="2019")])
        index.db.execute("UPDATE refs SET first_author = 'degard'")
        index.db.execute("PRAGMA user_version=2")
    with Index.open(path) as index:
        assert index.db.execute("SELECT first_author FROM refs").fetchone()[0] == "odegard"
        assert index.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reference_without_key_or_title_fails_alone(index):
    summary = index.add_references([paper("", "", origin=Origin("lib.bib", 7)), paper("ok", "A fine title")])
    assert (summary.added, summary.failed) == (1, 1)
    assert str(summary.errors[0]) == "lib.bib:7: reference has neither a key nor a title"


def test_crash_mid_file_leaves_index_unchanged(index):
    index.add_references([paper("kept", "Already indexed")])

    def crashing_reader():
        yield paper("new1", "A new paper")
        yield paper("kept", "Already indexed", abstract="an update")
        raise OSError("disk went away")

    with pytest.raises(OSError):
        index.add_references(crashing_reader())
    assert index.all_keys() == ["kept"]
    assert index.get("kept").abstract == ""


def test_nested_transactions_commit_once(index):
    with index.transaction():
        index.upsert(paper("z1", "Zotero item"))
        with index.transaction():
            index.set_meta("zotero:1:version", "42")
    assert index.get_meta("zotero:1:version") == "42"
    with pytest.raises(RuntimeError), index.transaction():
        index.upsert(paper("z2", "Another item"))
        index.set_meta("zotero:1:version", "43")
        raise RuntimeError("sync failed")
    assert index.get_meta("zotero:1:version") == "42"
    assert index.get("z2") is None


def test_upsert_returns_stored_key_and_delete_removes(index):
    index.add_references([paper("orig", "Attention is all you need", doi="10.1/att")])
    assert index.upsert(paper("zot", "Attention Is All You Need", doi="10.1/ATT")) == "orig"
    assert set(index.get_many(["orig", "missing"])) == {"orig"}
    index.delete("orig")
    assert index.count() == 0
    assert index.lexical_candidates(["attention"], 10) == []


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CitewiseError, match="newer citewise"):
        Index.open(path)


def test_not_an_index_is_refused(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(CitewiseError, match="not a citewise index"):
        Index.open(path)


def test_locked_index_gives_one_line_error(tmp_path):
    index = Index.open(tmp_path / "index.sqlite")
    index.db.execute("PRAGMA busy_timeout = 200")  # not the 30 s a real writer would wait
    other = sqlite3.connect(index.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CitewiseError, match="locked") as raised:
            index.add_references([paper("late", "Written while locked")])
        assert "\n" not in str(raised.value)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_missing_index_is_not_created_when_reading(tmp_path):
    with pytest.raises(CitewiseError, match="no index here"):
        Index.open(tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_strip_markup_keeps_words_and_drops_latex_and_markdown():
    latex = (r"Diffusion models~\citep[see][p.~3]{ho2020,song} are \emph{slow}; solving $O(n^2)$ ODEs"
             r" (Fig.~\ref{fig:a}) % a comment" "\n" r"\begin{itemize}\item costs 50\%\end{itemize}")
    assert strip_markup(latex) == "Diffusion models are slow; solving ODEs (Fig. ) costs 50%"
    markdown = "# Intro\nDiffusion **models** [@ho2020; @lu2022, p. 3] are *slow*, see [docs](http://x.y) `code`."
    assert strip_markup(markdown) == "Intro Diffusion models are slow, see docs ."


def test_index_location_precedence(monkeypatch, tmp_path):
    from citewise.bib.index.location import resolve_index_path

    monkeypatch.setenv("CITEWISE_INDEX", str(tmp_path / "env.sqlite"))
    assert resolve_index_path(str(tmp_path / "flag.sqlite")) == tmp_path / "flag.sqlite"
    assert resolve_index_path(None) == tmp_path / "env.sqlite"
    monkeypatch.delenv("CITEWISE_INDEX")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_index_path(None) == tmp_path / "data" / "citewise" / "index.sqlite"


def test_embeddings_load_back_in_row_order_across_chunks(index):
    import numpy as np

    from citewise.bib.index.embedding_rows import VECTOR_CHUNK_ROWS

    count = VECTOR_CHUNK_ROWS * 2 + 5
    index.add_references([paper(f"p{number}", f"Paper number {number} about topic {number}") for number in range(count)])
    pending = index.needing_embedding()
    index.set_model("test-model", 4)
    vectors = np.arange(len(pending) * 4, dtype=np.float32).reshape(len(pending), 4) % 1000
    index.store_embeddings([item.row_id for item in pending], vectors)
    row_ids, matrix = index.load_embeddings(4)
    assert len(row_ids) == count and list(row_ids) == sorted(item.row_id for item in pending)
    by_row = {item.row_id: vector for item, vector in zip(pending, vectors)}
    assert all(np.array_equal(matrix[position], by_row[row_id].astype(np.float16)) for position, row_id in enumerate(row_ids))


def test_a_reader_that_reloads_in_the_background_answers_from_the_vectors_before_a_write(tmp_path):
    """SQLite only: the language server sets `reload_vectors_with` on a SQLite index (a PostgreSQL
    index keeps its vectors in the database)."""
    import numpy as np

    index_location = tmp_path / "index.sqlite"

    def embed(opened: Index) -> None:
        pending = opened.needing_embedding()
        opened.store_embeddings([item.row_id for item in pending], np.ones((len(pending), 4), dtype=np.float32))

    query = np.ones(4, dtype=np.float32)
    with Index.open(index_location) as writer, Index.open(index_location) as reader:
        writer.set_model("test-model", 4)
        writer.add_references([paper("a", "Alpha paper"), paper("b", "Beta paper")])
        embed(writer)
        jobs: list = []
        reader.reload_vectors_with = jobs.append
        assert len(reader.nearest(query, 10, None)) == 2 and not jobs  # nothing read yet: read at once
        writer.add_references([paper("c", "Gamma paper")])
        embed(writer)
        assert len(reader.nearest(query, 10, None)) == 2 and len(jobs) == 1  # the vectors before the write answer
        assert len(reader.nearest(query, 10, None)) == 2 and len(jobs) == 1  # one reload at a time
        jobs[0]()
        assert len(reader.nearest(query, 10, None)) == 3 and len(jobs) == 1


def test_duplicate_lookups_seek_by_every_column_they_give(tmp_path):
    """Thousands of papers may share a title's first words, or an author and a year: each lookup of
    an added paper's duplicates is an index search on all of its equalities, so the rows it
    reads do not grow with the index."""
    with Index.open(tmp_path / "index.sqlite") as index:
        index.add_references([paper(f"p{n}", f"Deep learning for topic {n}", authors=[Author("Wang", "Li")], year="2020")
                              for n in range(50)])
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        index.add_references([paper("new", "Deep learning for topic fifty", authors=[Author("Wang", "Li")], year="2020")])
        index.db.set_trace_callback(None)
        lookups = [sql for sql in statements if sql.startswith("SELECT id, title_norm")]
        assert len(lookups) == 3
        for sql in lookups:
            detail = " ".join(row[3] for row in index.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert detail.startswith("SEARCH") and detail.count("=?") == sql.split("WHERE")[1].count(" = "), detail


def test_source_counts_follow_adds_merges_and_deletes_without_reading_every_row(index):
    """`index stats` reads the papers per source from a table the writes keep (SQLite schema 9,
    PostgreSQL 6), not every row; it always equals a count over the rows."""

    def counted_from_rows() -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, sources in index.references_with_sources():
            for source in sources:
                counts[source] = counts.get(source, 0) + 1
        return counts

    index.add_references([paper(f"p{n}", f"Paper number {n} on counting") for n in range(5)])
    index.add_references([paper("p1", "Paper number 1 on counting", origin=Origin("other.bib", 3)),
                          paper("q", "A paper only in the other file", origin=Origin("other.bib", 9)),
                          paper("p2", "Paper number 2 on counting", origin=Origin("test.bib", 2))])
    index.delete("p3")
    index.delete("q")
    index.replace_reference("p4", paper("p4", "Paper number 4 on counting, corrected"))
    assert index.stats()["sources"] == counted_from_rows() == {"test.bib": 4, "other.bib": 1}


def test_an_index_before_source_counts_gets_them_and_stats_reads_no_paper_rows(tmp_path):
    path = tmp_path / "index.sqlite"
    with Index.open(path) as index:
        index.add_references([paper(f"p{n}", f"Paper number {n} on counting") for n in range(3)])
        index.add_references([paper("p0", "Paper number 0 on counting", origin=Origin("other.bib", 1))])
        index.db.execute("DROP TABLE source_counts")
        index.db.execute("PRAGMA user_version = 8")
    with Index.open(path) as index:
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        assert index.stats()["sources"] == {"test.bib": 3, "other.bib": 1}
        index.db.set_trace_callback(None)
        assert not any("sources FROM refs" in sql for sql in statements), statements


def counted_over_rows(index) -> dict[str, int]:
    """The counts `index stats` shows, counted over every row."""
    counts = dict.fromkeys(("references", "embedded", "stale_embeddings", "with_doi", "with_arxiv", "with_abstract"), 0)
    rows = index.db.execute("SELECT doi, arxiv, data, embedding IS NOT NULL, embedded_hash = text_hash FROM refs")
    for doi, arxiv, data, has_vector, current in rows:
        counts["references"] += 1
        counts["embedded"] += bool(has_vector and current)
        counts["stale_embeddings"] += bool(has_vector and not current)
        counts["with_doi"] += doi != ""
        counts["with_arxiv"] += arxiv != ""
        counts["with_abstract"] += json.loads(data).get("abstract", "") != ""
    counts["needs_embedding"] = counts["references"] - counts["embedded"]
    return counts


def kept_counts(index) -> dict[str, int]:
    stats = index.stats()
    return {name: stats[name] for name in ("references", "embedded", "stale_embeddings", "with_doi", "with_arxiv",
                                           "with_abstract", "needs_embedding")}


def test_paper_counts_follow_every_write_and_equal_a_count_over_the_rows(index):
    """`index stats` reads papers, vectors, DOIs, arXiv ids and abstracts from counts the writes keep
    (SQLite schema 10, PostgreSQL 7): after each kind of write they equal a count over the rows."""

    def embed_pending() -> None:
        pending = [item.row_id for item in index.needing_embedding()]
        vectors = np.random.default_rng(len(pending)).standard_normal((len(pending), 8))
        index.store_embeddings(pending, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))

    index.add_references([paper("p0", "Counting papers with a DOI", doi="10.1/zero", abstract="We count."),
                          paper("p1", "Counting papers on arXiv", arxiv="2301.00001"),
                          paper("p2", "Counting plain papers"),
                          paper("p3", "Counting papers with abstracts", abstract="Abstracts are counted.")])
    assert kept_counts(index) == counted_over_rows(index) == {
        "references": 4, "embedded": 0, "stale_embeddings": 0, "with_doi": 1, "with_arxiv": 1, "with_abstract": 2,
        "needs_embedding": 4}
    index.add_references([paper("p2", "Counting plain papers", doi="10.1/two", abstract="Now with one.",
                                origin=Origin("other.bib", 4))])  # merged: DOI and abstract added
    index.set_model("test-model", 8)
    embed_pending()
    assert kept_counts(index) == counted_over_rows(index)
    assert (kept_counts(index)["embedded"], kept_counts(index)["with_doi"]) == (4, 2)
    index.replace_reference("p1", paper("p1", "Counting papers on arXiv, corrected", arxiv="2301.00001"))
    assert kept_counts(index) == counted_over_rows(index) and kept_counts(index)["stale_embeddings"] == 1
    assert index.pending_count() == len(index.needing_embedding()) == 1
    index.delete("p0")
    embed_pending()
    assert kept_counts(index) == counted_over_rows(index)
    assert kept_counts(index)["references"] == kept_counts(index)["embedded"] == 3
    index.clear_embeddings()
    assert kept_counts(index) == counted_over_rows(index) and kept_counts(index)["needs_embedding"] == 3
    assert index.count() == index.pending_count() == len(index.needing_embedding()) == 3
    stats = index.stats()  # the MCP tool `library_status` asks for these alone
    assert index.overview() == {name: stats[name] for name in ("references", "embedded", "model", "sources")}


def test_an_index_before_paper_counts_gets_them_and_stats_reads_no_paper_rows(tmp_path):
    path = tmp_path / "index.sqlite"
    with Index.open(path) as index:
        index.add_references([paper(f"p{n}", f"Paper number {n} on counting", doi=f"10.1/{n}" if n % 2 else "",
                                    abstract="Counted." if n < 2 else "") for n in range(5)])
        index.store_embeddings([1, 2], np.eye(2, 8))
        index.db.execute("DROP TABLE paper_counts")
        for (trigger,) in index.db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'paper_counts_%'").fetchall():
            index.db.execute(f"DROP TRIGGER {trigger}")
        index.db.execute("PRAGMA user_version = 9")
    with immutable(path), Index.open(path, read_only=True) as old:  # where it cannot be migrated: it counts the rows
        assert kept_counts(old) == counted_over_rows(old) and old.stats()["with_doi"] == 2 and old.count() == 5
        assert old.pending_count() == len(old.needing_embedding()) == 3
    with Index.open(path) as index:
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        kept = kept_counts(index)
        papers = index.count()  # the editor's status asks for it
        index.db.set_trace_callback(None)
        assert kept == counted_over_rows(index) and not any("FROM refs" in sql for sql in statements), statements
        assert papers == 5
        index.add_references([paper("p9", "A paper after the migration", abstract="Counted too.")])
        assert kept_counts(index) == counted_over_rows(index) and index.stats()["with_abstract"] == 3


def test_a_postgresql_index_before_paper_counts_gets_them(postgres):
    location = postgres.new_database()
    with Index.open(location) as index:
        index.add_references([paper(f"p{n}", f"Paper number {n} on counting", arxiv=f"2301.0000{n}" if n % 2 else "",
                                    abstract="Counted." if n < 2 else "") for n in range(5)])
        index.db.execute("DROP TABLE paper_counts CASCADE")
        for event in ("insert", "update", "delete"):
            index.db.execute(f"DROP TRIGGER paper_counts_{event} ON refs")
        index.db.execute("UPDATE meta SET value = '6' WHERE name = 'schema_version'")
    with Index.open(location) as index:
        assert kept_counts(index) == counted_over_rows(index) and index.stats()["with_arxiv"] == 2
        index.delete("p1")
        assert kept_counts(index) == counted_over_rows(index) and index.stats()["with_abstract"] == 1


def test_two_indexes_at_the_same_revision_are_told_apart_by_their_serial(tmp_path):
    """Caches over an index (ranking's papers, citation-link evidence) key on `serial` and
    the revision: two files can be at the same revision, and a freed index's id() is reused."""
    serials = []
    for name in ("a", "b"):
        with Index.open(tmp_path / f"{name}.sqlite") as opened:
            opened.add_references([Reference(key=f"{name}Paper2020", title=f"Paper {name}", year="2020")])
            serials.append((opened.serial, opened.revision()))
    with Index.open(tmp_path / "a.sqlite") as again:
        serials.append((again.serial, again.revision()))
    assert serials[0][1] == serials[1][1], "both files are at the same revision"
    assert len({serial for serial, _ in serials}) == 3, "each opening has its own serial"


def completion_keys(index: Index, words: list[str], last_is_prefix: bool) -> set[str]:
    return {ref.key for ref, _ in index.get_by_ids(index.word_prefix_ids(words, last_is_prefix, 10)).values()}


COMPLETION_PAPERS = [
    paper("vaswani2017", "Attention is all you need", authors=[Author("Vaswani", "Ashish")],
          abstract="Transformers replace recurrence."),
    paper("lecun1998", "Gradient-based learning", authors=[Author("LeCun", "Yann")],
          abstract="Attention is not what these networks use; transformers neither."),
]


def test_completion_finds_words_of_titles_authors_and_keys_only_and_forgets_replaced_ones(index):
    """Completion looks typed words up in the titles, authors and keys alone (SQLite: refs_names,
    schema 11; PostgreSQL: the names tsvector), never in abstracts; a replaced or deleted paper
    leaves no words behind."""
    index.add_references(COMPLETION_PAPERS)
    assert completion_keys(index, ["attention"], False) == {"vaswani2017"}
    assert completion_keys(index, ["att"], True) == completion_keys(index, ["vasw"], True) == {"vaswani2017"}
    assert completion_keys(index, ["transformers"], False) == set()  # in both abstracts only
    assert completion_keys(index, ["lecun", "gra"], True) == {"lecun1998"}
    index.replace_reference("vaswani2017", paper("vaswani2017", "Transformers for translation",
                                                 authors=[Author("Vaswani", "Ashish")]))
    assert completion_keys(index, ["attention"], False) == completion_keys(index, ["att"], True) == set()
    assert completion_keys(index, ["transf"], True) == {"vaswani2017"}
    index.delete("vaswani2017")
    assert completion_keys(index, ["transformers"], False) == completion_keys(index, ["vaswani"], False) == set()


def test_an_index_before_the_names_table_gets_it_filled_and_a_deleted_paper_leaves_it(tmp_path):
    path = tmp_path / "index.sqlite"
    index_set_back(path, COMPLETION_PAPERS, 10, "DROP TABLE refs_names")
    with Index.open(path) as index:
        assert index.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert completion_keys(index, ["att"], True) == {"vaswani2017"}
        assert completion_keys(index, ["lecun", "gra"], True) == {"lecun1998"}
        index.delete("vaswani2017")
        assert index.db.execute("SELECT count(*) FROM refs_names WHERE refs_names MATCH 'vaswani'").fetchone()[0] == 0


def test_an_index_before_schema_12_numbers_its_changes_without_reuse(tmp_path):
    """Schema 12: the change list's numbers never come back once forgotten (a reader of a large
    index keeps its place in the list by them), its listed rows and triggers carried over."""
    path = tmp_path / "old.sqlite"
    with Index.open(path) as index:
        index.add_references([paper("a", "Fjord circulation in winter"), paper("b", "Sea ice and its melt")])
        index.set_model("test-model", 2)
        index.store_embeddings(sorted(index.ids_for_keys(["a", "b"])), np.eye(2, dtype=np.float32))
        listed = index.db.execute("SELECT seq, id FROM ann_changes ORDER BY seq").fetchall()
        index.db.execute("DROP INDEX ann_changes_id")  # the table as schema 5 made it
        index.db.execute("ALTER TABLE ann_changes RENAME TO ann_changes_12")
        index.db.execute("CREATE TABLE ann_changes (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
        index.db.execute("INSERT INTO ann_changes SELECT seq, id FROM ann_changes_12")
        index.db.execute("DROP TABLE ann_changes_12")
        index.db.execute("PRAGMA user_version = 11")
    with Index.open(path) as index:
        assert index.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "AUTOINCREMENT" in index.db.execute("SELECT sql FROM sqlite_master WHERE name = 'ann_changes'").fetchone()[0]
        assert index.db.execute("SELECT seq, id FROM ann_changes ORDER BY seq").fetchall() == listed
        with index.transaction():
            index.db.execute("DELETE FROM ann_changes")
        index.store_embeddings([listed[0][1]], np.eye(2, dtype=np.float32)[1:])  # the trigger still lists it
        assert index.db.execute("SELECT seq, id FROM ann_changes").fetchall() == [(listed[-1][0] + 1, listed[0][1])]



def test_the_papers_to_enrich_are_chosen_by_their_columns_without_missing_one(index):
    """`citewise index enrich` (and `index add --enrich`) parse only the rows the columns leave:
    every paper `needs_enrichment` wants is among them (each combination of authors, year, venue,
    DOI and arXiv id), a complete arXiv paper is not, and `read_from` matches file names
    holding LIKE's special characters literally."""
    from itertools import product

    from citewise.bib.registries.enrich import needs_enrichment

    combinations = list(product([True, False], repeat=5))
    refs = []
    for n, (authors, year, venue, doi, arxiv) in enumerate(combinations):
        refs.append(Reference(key=f"k{n}", title=f"Paper {n} on the columns that choose enrichment",
                              authors=[Author(f"Family{n}", "Given")] if authors else [], year="2020" if year else "",
                              journal="A Journal" if venue else "", doi=f"10.1000/c{n}" if doi else "",
                              arxiv=f"2101.{n:05d}" if arxiv else "",
                              origin=Origin(r"C:\refs\my_refs%.bib" if n % 2 else "other_refs.bib", n + 1)))
    index.add_references(refs)
    wanted = {ref.key for ref, _ in index.references_with_sources() if needs_enrichment(ref)}
    chosen = {ref.key for ref, _ in index.references_with_sources(possibly_incomplete=True)}
    assert wanted <= chosen and len(chosen) < len(refs), (wanted - chosen, len(chosen))
    odd = {ref.key for ref, _ in index.references_with_sources(read_from={r"C:\refs\my_refs%.bib"})}
    assert odd == {f"k{n}" for n in range(1, len(refs), 2)}
    assert not list(index.references_with_sources(read_from={r"C:\refs\my_ref_%.bib", r"C:\refs\my_refs_.bib"}))
    assert not list(index.references_with_sources(read_from=set()))


def test_rows_are_found_by_doi_then_exact_title_then_key(index):
    """How the draft's .bib entries are matched to papers of the index (suggestions leave out what
    the draft cites): a title is looked up as a whole, not through every paper sharing its first
    three words (hundreds for "a survey of" at 300,000 papers)."""
    index.add_references([paper("a", "A survey of sparse attention", doi="10.1/a"),
                          paper("b", "A survey of dense retrieval"),
                          paper("c", "A survey of sparse attention methods")])
    ids = {key: index.ids_for_keys([key]).pop() for key in "abc"}
    found = index.row_ids_for([Reference(key="zz", doi="https://doi.org/10.1/A"),
                               Reference(key="zz", title="A Survey of Dense Retrieval."),
                               Reference(key="c"),
                               Reference(key="zz", title="A survey of sparse"),
                               Reference(key="zz", title="A survey of something else")])
    assert found == [ids["a"], ids["b"], ids["c"], None, None]


def test_the_papers_waiting_for_a_vector_are_sought_not_searched_for(index_location):
    """An embedding run finds the papers waiting for a vector (none yet, or a changed text) in a
    list the triggers keep (SQLite, schema 13) or a partial index (PostgreSQL, schema 8), never by
    reading every row of the index: that took 2.0 s warm and 15.4 s cold at 1M papers, each time
    the language server embedded a few new papers."""
    with Index.open(index_location) as index:
        index.add_references([paper(f"p{n}", f"Paper number {n} on fjords") for n in range(6)])
        ids = [index.ids_for_keys([f"p{n}"]).pop() for n in range(6)]

        def waiting() -> list[int]:
            return [item.row_id for item in index.needing_embedding()]

        assert waiting() == ids
        index.set_model("test-model", 2)
        index.store_embeddings(ids[:4], np.tile(np.eye(2, dtype=np.float32)[:1], (4, 1)))
        assert waiting() == ids[4:] and index.pending_count() == 2
        index.replace_reference("p1", paper("p1", "Paper number one, retitled"))
        index.delete("p5")
        assert waiting() == [ids[1], ids[4]] and [item.row_id for item in index.needing_embedding(ids[1], 1)] == [ids[4]]
        assert index.pending_count() == 2
        index.clear_embeddings()
        assert waiting() == ids[:5]
        if isinstance(index.db, sqlite3.Connection):
            plan = " ".join(row[3] for row in index.db.execute("EXPLAIN QUERY PLAN " + index.PENDING_ROWS_SQL, (0,)))
            assert "SCAN refs" not in plan and "pending_rows" in plan, plan
        else:
            index.db.execute("SET enable_seqscan = off")  # a 6-row table is scanned whatever its indexes
            plan = " ".join(row[0] for row in index.db.execute("EXPLAIN " + index.PENDING_ROWS_SQL, (0,)))
            assert "refs_pending" in plan, plan


def test_an_index_before_schema_13_lists_its_waiting_papers_reading_its_rows_only_when_some_wait(tmp_path):
    """Schema 13 fills the list of papers waiting for a vector from the rows only when the kept
    counts show some: a fully embedded index of millions of papers migrates at once."""
    from citewise.bib.index.sqlite_schema import _schema_13

    def set_back(path) -> None:
        with Index.open(path) as index:
            index.db.execute("DROP TABLE pending_rows")
            for name in ("pending_insert", "pending_update", "pending_done", "pending_delete"):
                index.db.execute(f"DROP TRIGGER {name}")
            index.db.execute("PRAGMA user_version = 12")

    embedded, waiting = tmp_path / "embedded.sqlite", tmp_path / "waiting.sqlite"
    for path, stored in ((embedded, 2), (waiting, 1)):
        with Index.open(path) as index:
            index.add_references([paper("a", "Fjord circulation in winter"), paper("b", "Sea ice and its melt")])
            index.set_model("test-model", 2)
            index.store_embeddings(sorted(index.ids_for_keys(["a", "b"]))[:stored], np.eye(2, dtype=np.float32)[:stored])
        set_back(path)
    for path, expected_reads in ((embedded, 0), (waiting, 1)):
        db = sqlite3.connect(path)
        statements: list[str] = []
        db.set_trace_callback(statements.append)
        _schema_13(db)
        db.commit()
        db.close()
        assert sum("FROM refs WHERE" in sql for sql in statements) == expected_reads, statements
    with Index.open(waiting) as index:
        assert index.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [item.row_id for item in index.needing_embedding()] == sorted(index.ids_for_keys(["b"]))
        index.add_references([paper("c", "Glacier calving fronts")])  # the triggers keep the list
        assert [item.row_id for item in index.needing_embedding()] == sorted(index.ids_for_keys(["b", "c"]))


def test_a_typed_year_is_looked_up_in_the_years_index(index_location):
    """Completion of a typed year (`year_ids`) read every paper's year when few or none had it: at
    1M papers 70 ms warm and 1.3 s cold per keystroke for "2027". The year's index answers (SQLite
    schema 14, PostgreSQL schema 9)."""
    with Index.open(index_location) as index:
        index.add_references([paper("old1850", "Lectures on heat", year="1850"),
                              paper("new2020", "Sea ice and its melt", year="2020")])
        assert index.year_ids(["1850"], 10) == index.ids_for_keys(["old1850"]) and index.year_ids(["2027"], 10) == set()
        if isinstance(index.db, sqlite3.Connection):
            plan = " ".join(row[3] for row in index.db.execute("EXPLAIN QUERY PLAN SELECT id FROM refs WHERE year IN (?) LIMIT ?",
                                                                ("1850", 10)))
        else:
            index.db.execute("SET enable_seqscan = off")  # a 2-row table is scanned whatever its indexes
            plan = " ".join(row[0] for row in index.db.execute("EXPLAIN SELECT id FROM refs WHERE year IN (?) LIMIT ?",
                                                                ("1850", 10)))
        assert "refs_year" in plan, plan
