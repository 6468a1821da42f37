"""The index on PostgreSQL, for a lab that shares one: tsvector words, pg_trgm names, pgvector HNSW.

`PostgresIndex` keeps every rule of the SQLite `Index` (merging duplicates, keys, revisions,
embedding bookkeeping) and replaces only what is particular to the database: the connection,
transactions, schema, full-text rows, statistics, vectors and the search candidate queries.
The shared SQL is written with `?` marks; `_Connection` turns them into psycopg's `%s`.

Concurrency: any number of readers; writers take one advisory lock per transaction, so
papers are merged one writer at a time as with SQLite's single writer. Schema migrations run
on open under another advisory lock, so two processes opening a new database do it once.
Credentials come from the URL, `PGPASSWORD` or `~/.pgpass` (libpq reads both); messages
name the database through `display_location`, never with its password.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

import numpy as np
from rapidfuzz import fuzz, process

from citewise.bib.errors import CitewiseError
from citewise.bib.index.connection import Database
from citewise.bib.index.location import display_location
from citewise.bib.index.paper_rows import first_author
from citewise.bib.index.postgres_schema import MIGRATIONS, PENDING_ROWS_SQL, SCHEMA_VERSION, TITLE_TAIL_SQL
from citewise.bib.index.sqlite_queries import FAMILY_MATCH_CUTOFF, Limits, year_bounds
from citewise.bib.index.store import Index
from citewise.bib.model import Reference

WRITER_LOCK = 0x63697465  # "cite": one writer at a time
MIGRATION_LOCK = 0x6D696772  # "migr"
LOCK_TIMEOUT = "30s"
TRIGRAM_THRESHOLD = 0.3
# Recall@10 for bench_scale's 300 real sentences: on 10,000 real vectors 0.972 at ef_search 200,
# 0.988 at 300; on 100,000 derived from them 0.965 at 300, 0.979 at 400, 0.988 at 600 (+10 ms).
HNSW_EF_SEARCH = 600
# ts_rank weights for {D, C, B, A}: abstract, keywords, authors and key, title (as SQLite's BM25 3:2:1:2:2);
# ranks are divided by 1 + log(length), as BM25 favours short papers that match over long ones.
RANK_WEIGHTS = "{0.33, 0.67, 0.67, 1.0}"


class _Connection:
    """A psycopg connection that takes the `?` marks of the SQL shared with SQLite."""

    def __init__(self, connection: Any):
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.connection.execute(_marks(sql), tuple(params)) if params else self.connection.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(_marks(sql), list(rows))

    def close(self) -> None:
        self.connection.close()


def _marks(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresIndex(Index):
    """An index in a PostgreSQL database (with the pgvector and pg_trgm extensions)."""

    schema_version = SCHEMA_VERSION
    TITLE_TAIL_SQL = TITLE_TAIL_SQL
    PENDING_ROWS_SQL = PENDING_ROWS_SQL
    _common_words: tuple[int, dict[str, float]] | None = None  # (ANALYZE runs, word -> papers): `papers_with`

    def __init__(self, db: Database, path: str, url: str):
        super().__init__(db, path)
        self._url = url  # with any password: only ever passed to psycopg
        self._reader: Self | None = None
        self._reader_lock = threading.Lock()

    @classmethod
    def connect(cls, url: str, create: bool = True) -> Self:
        """The index at `url`, its schema brought up to date (created if `create`)."""
        return cls._connected(url, migrate=True, create=create)

    @classmethod
    def _connected(cls, url: str, migrate: bool, create: bool = False) -> Self:
        """A connection with citewise's search settings; with `migrate`, the schema checked and
        brought up to date first (a `concurrent_reader` skips that: its index did it)."""
        try:
            import psycopg
        except ImportError:
            raise CitewiseError("a postgresql:// index needs psycopg: pip install 'citewise[postgres]'") from None
        where = display_location(url)
        try:
            connection = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="citewise")
        except psycopg.Error as error:
            raise CitewiseError(f"{where}: cannot connect: {_first_line(error, url)}") from None
        index = cls(_Connection(connection), where, url)
        try:
            if migrate:
                index._migrate(create)
            index.db.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
            index.db.execute("SET hnsw.iterative_scan = relaxed_order")
            index.db.execute(f"SET pg_trgm.similarity_threshold = {TRIGRAM_THRESHOLD}")
        except psycopg.Error as error:
            connection.close()
            raise CitewiseError(f"{where}: {_first_line(error, url)}") from None
        return index

    def concurrent_reader(self) -> Self:
        """A second connection to the same database, for a search's word signals, which run on a
        thread of their own beside its dense signal (search.py). On one connection the two waited
        for each other: at 100k papers, the query embedded already, 74 / 111 ms (p50) for a
        sentence's / a paragraph's signals, against 34 / 53 ms on two. Opened on first use (without
        the schema check, which this index made), closed with this index."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = type(self)._connected(self._url, migrate=False)
            return self._reader

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        super().close()

    def sync_ann(self, rebuild: bool = False, on_progress: Callable[[int, int], None] | None = None,
                 opening: bool = False, wait: bool = True) -> None:
        """Nothing to do: pgvector's HNSW index changes with the rows, in the same transaction."""

    def graph_state(self, embedded: int) -> dict[str, Any] | None:
        """None: no file to report; pgvector's HNSW index lives in the database."""
        return None

    def _migrate(self, create: bool) -> None:
        self.db.execute("BEGIN")
        try:
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            version = int(self.get_meta("schema_version") or 0)
            if version > SCHEMA_VERSION:
                raise CitewiseError(
                    f"{self.path}: index written by a newer citewise (schema {version}, this one reads up to "
                    f"{SCHEMA_VERSION}); upgrade citewise or use another --index"
                )
            if version == 0 and not create:
                raise CitewiseError(f"{self.path}: no index here; build one with `citewise index add`")
            for migrate in MIGRATIONS[version:]:
                migrate(self.db)
            self.db.execute(
                "INSERT INTO meta(name, value) VALUES ('schema_version', ?) ON CONFLICT(name)"
                " DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _begin(self) -> None:
        import psycopg

        self.db.execute("BEGIN")
        try:
            self.db.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK,))
        except psycopg.errors.LockNotAvailable:
            self.db.execute("ROLLBACK")
            raise CitewiseError(f"{self.path}: index is locked by another process; try again when it has finished") from None

    def _commit(self) -> None:
        self.db.execute("COMMIT")

    # Rows

    def _index_text(self, row_id: int, ref: Reference) -> None:
        authors = " ".join(f"{a.given} {a.family}" for a in ref.authors)
        keywords = " ".join(ref.keywords)
        self.db.execute(
            "UPDATE refs SET title = ?, authors = ?,"
            " words = setweight(to_tsvector('english', ?), 'A') || setweight(to_tsvector('english', ?), 'B')"
            " || setweight(to_tsvector('simple', ?), 'B') || setweight(to_tsvector('english', ?), 'C')"
            " || setweight(to_tsvector('english', ?), 'D'),"
            " names = to_tsvector('simple', ?) WHERE id = ?",
            (ref.title, authors, ref.title, authors, ref.key, keywords, ref.abstract,
             f"{ref.title} {authors} {ref.key}", row_id),
        )
        family = first_author(ref)
        if family:
            self.db.execute("INSERT INTO families(family) VALUES (?) ON CONFLICT DO NOTHING", (family,))

    def _forget_text(self, row_id: int) -> None:
        """Nothing to do: the words live in the row itself."""

    def _counts_kept(self) -> bool:
        return True  # every open migrates

    def _stored_schema(self) -> int:
        return SCHEMA_VERSION  # every open migrates

    def _size_bytes(self) -> int:
        row = self.db.execute(
            "SELECT pg_total_relation_size('refs') + pg_total_relation_size('aliases') + pg_total_relation_size('meta')"
            " + pg_total_relation_size('citations')"
        ).fetchone()
        return int(row[0])

    # Embeddings

    def set_model(self, name: str, dimension: int) -> None:
        """Record the model and build the HNSW index for its dimension (cosine distance on half floats)."""
        with self.transaction():
            super().set_model(name, dimension)
            self.db.execute(
                f"CREATE INDEX IF NOT EXISTS refs_embedding_hnsw_{int(dimension)} ON refs"
                f" USING hnsw ((embedding::halfvec({int(dimension)})) halfvec_cosine_ops)"
            )

    def clear_embeddings(self) -> None:
        with self.transaction():
            for (name,) in self.db.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'refs' AND indexname LIKE 'refs_embedding_hnsw_%'"
            ).fetchall():
                self.db.execute(f'DROP INDEX "{name}"')
            super().clear_embeddings()

    def store_embeddings(self, row_ids: list[int], vectors: np.ndarray) -> None:
        with self.transaction():
            self.db.executemany(
                "UPDATE refs SET embedding = ?::halfvec, embedded_hash = text_hash WHERE id = ?",
                ((_vector_text(vector), row_id) for vector, row_id in zip(np.asarray(vectors, dtype=np.float32), row_ids)),
            )
            self._bump_revision()

    def load_embeddings(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute("SELECT id, embedding::text FROM refs WHERE embedding IS NOT NULL ORDER BY id").fetchall()
        ids = np.array([row_id for row_id, _ in rows], dtype=np.int64)
        matrix = np.array([np.fromstring(text[1:-1], sep=",") for _, text in rows], dtype=np.float16)
        return ids, matrix.reshape(len(rows), dimension)

    def vectors_of(self, ids: list[int], dimension: int) -> np.ndarray:
        """The stored vectors of the given rows as float32 (zeros for a row without one)."""
        found = np.zeros((len(ids), dimension), dtype=np.float32)
        rows = dict(self.db.execute("SELECT id, embedding::text FROM refs WHERE id = ANY(?) AND embedding IS NOT NULL",
                                    [list(ids)]).fetchall())
        for position, row_id in enumerate(ids):
            if row_id in rows:
                found[position] = np.fromstring(rows[row_id][1:-1], sep=",")
        return found

    # Search candidates (see sqlite_queries.py for what each one answers)

    def lexical_candidates(self, terms: list[str], limit: int, limits: Limits | None = None) -> list[tuple[int, float]]:
        terms = [term for term in terms if term.strip("_")]
        if not terms:
            return []
        clauses, values = _limit_clauses(limits) if limits is not None else (["TRUE"], [])
        rows = self.db.execute(
            f"SELECT id, ts_rank('{RANK_WEIGHTS}', words, query, 1) AS score FROM refs, to_tsquery('english', ?) query"
            f" WHERE words @@ query AND {' AND '.join(clauses)} ORDER BY score DESC LIMIT ?",
            (" | ".join(terms), *values, limit),
        )
        return [(row_id, float(score)) for row_id, score in rows]

    def papers_with(self, term: str, at_most: int | None = None) -> int:
        """How many papers hold `term`, counted up to `at_most` (sqlite_queries.py). Counting reads
        each paper's row: 20–40 ms for 5,000 papers at 100k, and a paragraph's 48 words took 650 ms.
        So with `at_most` a word among the most common ones is not counted: the statistics ANALYZE
        (autovacuum) keeps of the words column give the share of papers holding it. For the 551
        such words of 20 paragraphs at 100k papers that share was within 0.8 % of the count (median;
        p95 3.9 %, at most 9.9 %): the searcher keeps the same words (`LEXICAL_POSTINGS_BUDGET`),
        and the paragraphs' counts took 32 ms (median) instead of 650."""
        if at_most is not None and (sampled := self._sampled_papers_with(term)) is not None:
            return min(at_most, round(sampled))
        if at_most is None:
            row = self.db.execute("SELECT count(*) FROM refs WHERE words @@ to_tsquery('english', ?)", (term,)).fetchone()
        else:
            row = self.db.execute("SELECT count(*) FROM (SELECT 1 FROM refs WHERE words @@ to_tsquery('english', ?) LIMIT ?) AS hits",
                                  (term, at_most)).fetchone()
        return int(row[0])

    def _sampled_papers_with(self, term: str) -> float | None:
        """About how many papers hold `term` when it is one of the words column's most common
        (1,000 words, from ANALYZE's sample of 30,000 rows), else None. Those words and their shares
        are read once per ANALYZE of the table."""
        lexemes, analyzed = self.db.execute(
            "SELECT tsvector_to_array(to_tsvector('english', ?)),"
            " (SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables WHERE relid = 'refs'::regclass)",
            (term,)).fetchone()
        kept = self._common_words
        if kept is None or kept[0] != analyzed:
            kept = self._common_words = (analyzed, dict(self.db.execute(
                "SELECT common.word, common.share * pg_class.reltuples FROM pg_stats, pg_class,"
                " unnest(pg_stats.most_common_elems::text::text[], pg_stats.most_common_elem_freqs) AS common(word, share)"
                " WHERE pg_stats.schemaname = current_schema() AND pg_stats.tablename = 'refs'"
                " AND pg_stats.attname = 'words' AND pg_class.oid = 'refs'::regclass").fetchall()))
        return kept[1].get(lexemes[0]) if len(lexemes) == 1 else None

    def key_prefix_ids(self, typed: str, limit: int) -> set[int]:
        pattern = typed.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute("SELECT id FROM refs WHERE lower(key) LIKE ? LIMIT ?", (pattern, limit))
        return {row[0] for row in rows}

    # word_prefix_ids is SQLite's (the words as typed first, the words a prefix stands for only
    # to fill the limit), with tsquery's clauses:
    @staticmethod
    def _word_clause(word: str) -> str:
        return word

    @staticmethod
    def _prefix_clause(word: str) -> str:
        return f"{word}:*"

    def _ids_matching(self, clauses: list[str], limit: int) -> set[int]:
        rows = self.db.execute("SELECT id FROM refs WHERE names @@ to_tsquery('simple', ?) LIMIT ?",
                               (" & ".join(clauses), limit))
        return {row[0] for row in rows}

    def similar_families(self, word: str) -> set[str]:
        """Family names close to `word` (typos included): pg_trgm's index on the distinct names finds
        the candidates; rapidfuzz then applies the same cut-off as on SQLite."""
        if len(word) < 4:
            return set()
        rows = self.db.execute("SELECT family, similarity(family, ?) AS s FROM families WHERE family % ? ORDER BY s DESC LIMIT 20",
                               (word, word))
        return {match[0] for match in process.extract(word, [row[0] for row in rows], scorer=fuzz.ratio, limit=5,
                                                      score_cutoff=FAMILY_MATCH_CUTOFF)}

    def similar_author_ids(self, names: list[str], limit: int) -> set[int]:
        similar = set().union(*(self.similar_families(word) for word in names))
        if not similar:
            return set()
        rows = self.db.execute("SELECT id FROM refs WHERE first_author = ANY(?) LIMIT ?", (sorted(similar), limit))
        return {row[0] for row in rows}

    def labels(self, row_ids: Iterable[int]) -> dict[int, tuple[str, str, str, str]]:
        rows = self.db.execute("SELECT id, key, year, authors, title FROM refs WHERE id = ANY(?)", (list(row_ids),))
        return {row_id: (key, year, authors, title) for row_id, key, year, authors, title in rows}

    def filtered_ids(self, year_from: int | None, year_to: int | None, source: str | None,
                     among: Iterable[int] | None = None) -> set[int]:
        clauses, values = _limit_clauses(Limits(year_from, year_to, source))
        if among is not None:
            clauses.append("id = ANY(?)")
            values.append(list(among))
        return {row[0] for row in self.db.execute(f"SELECT id FROM refs WHERE {' AND '.join(clauses)}", values)}

    def limited_ids(self, limits: Limits, among: Iterable[int] | None = None) -> set[int]:
        """The papers within `limits`; of those `among`, read by primary key, not every paper's
        (which searches here never need: the limits are in their SQL)."""
        if among is None:
            return super().limited_ids(limits)
        return self.filtered_ids(limits.year_from, limits.year_to, limits.source, among=among)

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """Nearest papers by cosine similarity through the HNSW index (approximate, as pgvector gives)."""
        return self._nearest(query, limit, ["id = ANY(?)"] if allowed is not None else [],
                             [list(allowed)] if allowed is not None else [])

    def dense_candidates(self, query: np.ndarray, limit: int, limits: Limits | None = None) -> list[tuple[int, float]]:
        """Nearest papers within `limits`, the conditions in the HNSW index's scan (iterative: it
        reads on until `limit` rows pass them, or `hnsw.max_scan_tuples`). Passing the limited
        papers' ids instead sent 1.2M of them with every search limited to the papers since 2010
        at 3M papers. When the scan stops short of `limit` rows, few papers are within the limits,
        and those are scored by id."""
        if limits is None:
            return self.nearest(query, limit, None)
        found = self._nearest(query, limit, *_limit_clauses(limits))
        if len(found) < limit:
            return self.nearest(query, limit, self.limited_ids(limits))
        return found

    def _nearest(self, query: np.ndarray, limit: int, clauses: list[str], values: list[Any]) -> list[tuple[int, float]]:
        """The `limit` nearest papers meeting `clauses`, best first (an iterative scan's relaxed
        order is put right here)."""
        dimension = int(len(query))
        vector = f"?::halfvec({dimension})"
        distance = f"(embedding::halfvec({dimension}) <=> {vector})"
        where = " AND ".join(["embedding IS NOT NULL", *clauses])
        params = [_vector_text(query), *values, _vector_text(query), limit]
        rows = self.db.execute(f"SELECT id, 1 - {distance} FROM refs WHERE {where} ORDER BY {distance} LIMIT ?", params)
        return sorted(((row_id, float(score)) for row_id, score in rows), key=lambda row: -row[1])


def _limit_clauses(limits: Limits) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their values) on refs for the papers within `limits`."""
    clauses, values = ["TRUE"], list[Any]()
    if limits.year_from is not None or limits.year_to is not None:  # a year like 'n.d.' is neither before nor after one
        clauses.append("year ~ '^[0-9]{4}'")
    lowest, past = year_bounds(limits.year_from, limits.year_to)
    if lowest is not None:
        clauses.append("year >= ?")
        values.append(lowest)
    if past is not None:
        clauses.append("year < ?")
        values.append(past)
    if limits.source:
        clauses.append("strpos(lower(sources), lower(?)) > 0")
        values.append(limits.source)
    return clauses, values


def _vector_text(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{value:.6g}" for value in vector.tolist()) + "]"


def _first_line(error: Exception, url: str) -> str:
    """The database's message, first line only, with the URL (and so any password) taken out."""
    message = (str(error).strip().splitlines() or ["error"])[0]
    return message.replace(url, display_location(url))
