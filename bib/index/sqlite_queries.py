"""The candidate queries search asks of a SQLite index: FTS5 for words, LIKE for keys, vectors in memory.

`Searcher` (search.py) ranks and fuses; it asks the index for candidates through the methods
below and never writes SQL itself. `PostgresIndex` (postgres.py) answers the same methods
with tsvector, pg_trgm and pgvector, so the searcher never knows which database it talks to.
Every method returns row ids (and a score where it ranks: higher is better). A search limited
to years or a source hands the candidate queries its `Limits`, which each backend applies its own
way: here through the limited papers' ids, read once per limit and index revision; PostgreSQL
puts them in its SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from rapidfuzz import fuzz, process

from citewise.bib.index.ann import AnnReader, graph_state, stored_vectors, sync
from citewise.bib.index.connection import Database
from citewise.bib.index.embedding_rows import EmbeddingRows
from citewise.bib.index.paper_rows import family_variants
from citewise.bib.index.vector_matrix import VectorMatrix, refreshed

BM25_COLUMN_WEIGHTS = "3.0, 2.0, 1.0, 2.0, 2.0"  # title, authors, abstract, keywords, key
FAMILY_MATCH_CUTOFF = 80
ID_CHUNK = 500
# A limited search takes the best `limit` times this by BM25, then those within its limits.
LIMITED_LEXICAL_DEPTH = 20


@dataclass(frozen=True)
class Limits:
    """What a search is limited to: papers from `year_from` to `year_to`, read from a file whose
    name holds `source` (each optional)."""

    year_from: int | None = None
    year_to: int | None = None
    source: str | None = None


def year_bounds(year_from: int | None, year_to: int | None) -> tuple[str | None, str | None]:
    """The text bounds of the years from `year_from` to `year_to` (each optional), for a year that
    starts with four digits: the lowest ("2010", inclusive) and the first past them ("2031"). As
    text, "2010-05" and "2010a" sort among the years of 2010, and an index on the year serves the
    range (at 1M papers 20 ms for the papers since 2024, where casting every year took 159)."""
    lowest = f"{max(year_from, 0):04d}" if year_from is not None else None
    past = f"{year_to + 1:04d}" if year_to is not None and year_to < 9999 else None
    return lowest, past


class SqliteCandidateQueries(EmbeddingRows):
    """The search side of the SQLite `Index`.

    Exact dense search reads an in-memory `VectorMatrix` (vector_matrix.py), keyed by the index
    revision, its change position and the vectors' dimension. Snapshots are immutable: searches
    on any thread use the one published when they start, and a refresh (one at a time, under
    `_refresh_lock`) reads only the rows changed since and publishes a new one.

    A long-lived reader (the language server) sets `reload_vectors_with`, a function that runs
    a job in the background: after the index changes, the matrix before keeps answering while
    that job brings it up to date through a connection of its own (`load_vectors`), instead of
    the search that noticed the change.
    """

    def __init__(self, db: Database, path: Path | str):
        super().__init__(db, path)
        self._refresh_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._matrix: VectorMatrix | None = None
        self.reload_vectors_with: Callable[[Callable[[], None]], object] | None = None
        self._vectors_reloading = False
        self._ann = AnnReader(path)
        self._limited_lock = threading.Lock()
        self._limited: tuple[tuple[int, Limits], set[int]] | None = None

    def concurrent_reader(self) -> Self:
        """The index a search's word signals query on a thread of their own, beside its dense
        signal (search.py): this one. Its dense signal is numpy's and usearch's work, so the one
        connection is seldom waited for; PostgreSQL's is a query, which opens a second one."""
        return self

    def sync_ann(self, rebuild: bool = False, on_progress: Callable[[int, int], None] | None = None,
                 opening: bool = False, wait: bool = True) -> None:
        """Bring the HNSW file beside the index up to date with its vectors (ann.py). Writers call
        it after storing vectors, and `opening` the index, which only repairs a crash between the
        two; `citewise index graph` with `rebuild` to build the file again from every vector.
        Without `wait`, another process writing the graph leaves the changes to a later sync."""
        sync(self.db, self.path, int(self.get_meta("dimension") or 0) or None, rebuild, on_progress, opening, wait)

    def graph_state(self, embedded: int) -> dict[str, Any] | None:
        """The HNSW file as `index stats` reports it (ann.py); None for an index that needs none."""
        return graph_state(self.db, self.path, embedded)

    def lexical_candidates(self, terms: list[str], limit: int, limits: Limits | None = None) -> list[tuple[int, float]]:
        """Papers holding any of `terms`, by BM25 (title and authors weigh more than the abstract);
        with `limits`, those within them among the best LIMITED_LEXICAL_DEPTH times `limit`."""
        match = " OR ".join(f'"{term}"' for term in terms)
        rows = self.db.execute(
            f"SELECT rowid, -bm25(refs_fts, {BM25_COLUMN_WEIGHTS}) AS s FROM refs_fts WHERE refs_fts MATCH ?"
            " ORDER BY s DESC LIMIT ?",
            (match, limit if limits is None else limit * LIMITED_LEXICAL_DEPTH),
        ).fetchall()
        if limits is not None:
            allowed = self.limited_ids(limits)
            rows = [row for row in rows if row[0] in allowed][:limit]
        return [(row_id, score) for row_id, score in rows]

    def papers_with(self, term: str, at_most: int | None = None) -> int:
        """How many papers hold `term`, counted up to `at_most`: the searcher keeps the rarest
        terms of long queries, and past its budget an exact count only costs time."""
        match = f'"{term}"'
        # Is there an `at_most`-th paper? Skipping to it costs a quarter less than counting up to
        # it (a paragraph's 48 words at 1M papers, most of them common there: 35 instead of 47 ms);
        # only a word with fewer papers is then counted.
        if at_most is not None and self.db.execute("SELECT rowid FROM refs_fts WHERE refs_fts MATCH ? LIMIT 1 OFFSET ?",
                                                    (match, at_most - 1)).fetchone() is not None:
            return at_most
        return int(self.db.execute("SELECT count(*) FROM refs_fts WHERE refs_fts MATCH ?", (match,)).fetchone()[0])

    def key_prefix_ids(self, typed: str, limit: int) -> set[int]:
        pattern = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute("SELECT id FROM refs WHERE key LIKE ? ESCAPE '\\' LIMIT ?", (pattern, limit))
        return {row[0] for row in rows}

    def word_prefix_ids(self, words: list[str], last_is_prefix: bool, limit: int) -> set[int]:
        """Up to `limit` papers holding every word in title, authors or key; the last word may be
        unfinished (`last_is_prefix`). Papers holding the words as typed come first, and the words
        a prefix stands for are read only when those do not fill the limit. The words are looked up
        in refs_names (sqlite_schema.NAMES_TABLE): at 887,552 papers a prefix of 2, 3, 4 or 5
        letters takes 0.16, 0.16, 0.65 and 0.66 ms (median; p95 0.21, 0.18, 4.5 and 4.3 ms), where
        refs_fts under a column filter took 54, 17, 9 and 7 ms (p95 247, 72, 39 and 32 ms;
        bench/bench_prefix_lookup.py)."""
        found = self._ids_matching([self._word_clause(word) for word in words], limit)
        if last_is_prefix and len(found) < limit:
            clauses = [self._word_clause(word) for word in words[:-1]] + [self._prefix_clause(words[-1])]
            for row_id in self._ids_matching(clauses, limit):
                if len(found) == limit:
                    break
                found.add(row_id)
        return found

    @staticmethod
    def _word_clause(word: str) -> str:
        return f'"{word}"'

    @staticmethod
    def _prefix_clause(word: str) -> str:
        return f'"{word}"*'

    def _ids_matching(self, clauses: list[str], limit: int) -> set[int]:
        rows = self.db.execute("SELECT rowid FROM refs_names WHERE refs_names MATCH ? LIMIT ?",
                               (" AND ".join(clauses), limit))
        return {row[0] for row in rows}

    def year_ids(self, years: Iterable[str], limit: int) -> set[int]:
        years = sorted(years)
        marks = ",".join("?" * len(years))
        return {row[0] for row in self.db.execute(f"SELECT id FROM refs WHERE year IN ({marks}) LIMIT ?", (*years, limit))}

    def similar_families(self, word: str) -> set[str]:
        """First authors' family names one typo from `word` (four letters or more): the candidates
        share a deletion variant with it (an indexed lookup, however many names the index holds),
        and rapidfuzz keeps the closest."""
        if len(word) < 4:
            return set()
        variants = sorted(family_variants(word))
        marks = ",".join("?" * len(variants))
        families = [row[0] for row in self.db.execute(
            f"SELECT DISTINCT family FROM family_variants WHERE variant IN ({marks})", variants)]
        return {match[0] for match in process.extract(word, families, scorer=fuzz.ratio, limit=5,
                                                      score_cutoff=FAMILY_MATCH_CUTOFF)}

    def similar_author_ids(self, names: list[str], limit: int) -> set[int]:
        """Papers whose first author's family name is one typo from a typed word (`similar_families`)."""
        similar = set().union(*(self.similar_families(word) for word in names))
        if not similar:
            return set()
        marks = ",".join("?" * len(similar))
        rows = self.db.execute(f"SELECT id FROM refs WHERE first_author IN ({marks}) LIMIT ?", (*sorted(similar), limit))
        return {row[0] for row in rows}

    def labels(self, row_ids: Iterable[int]) -> dict[int, tuple[str, str, str, str]]:
        """Row id -> (key, year, authors, title) for fuzzy scoring."""
        labels = {}
        ids = list(row_ids)
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT r.id, r.key, r.year, f.authors, f.title FROM refs r JOIN refs_fts f ON f.rowid = r.id"
                f" WHERE r.id IN ({marks})",
                chunk,
            )
            for row_id, key, year, authors, title in rows:
                labels[row_id] = (key, year, authors, title)
        return labels

    def filtered_ids(self, year_from: int | None, year_to: int | None, source: str | None,
                     among: Iterable[int] | None = None) -> set[int]:
        """Papers within the years and from the source given (each limit optional); with `among`,
        only those rows are read (by primary key), not every row of the index."""
        clauses, values = ["1"], list[int | str]()
        if year_from is not None or year_to is not None:  # a year like 'n.d.' is neither before nor after one
            clauses.append("year GLOB '[0-9][0-9][0-9][0-9]*'")
        lowest, past = year_bounds(year_from, year_to)
        if lowest is not None:
            clauses.append("year >= ?")  # compared as text: a range of the year's index (schema 14)
            values.append(lowest)
        if past is not None:
            clauses.append("year < ?")
            values.append(past)
        if source:
            clauses.append("instr(lower(sources), lower(?)) > 0")
            values.append(source)
        where = " AND ".join(clauses)
        if among is None:
            return {row[0] for row in self.db.execute(f"SELECT id FROM refs WHERE {where}", values)}
        found: set[int] = set()
        ids = sorted(among)
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.db.execute(f"SELECT id FROM refs WHERE id IN ({marks}) AND {where}",
                                                           [*chunk, *values]))
        return found

    def limited_ids(self, limits: Limits, among: Iterable[int] | None = None) -> set[int]:
        """The papers within `limits` (of those `among`, if given). Every one of them is read and
        kept for the next search with the same limits until the index changes: an agent's or a
        batch's queries share them, and reading them takes 23–286 ms at 1M papers (the papers since
        2024 / 2010, over the year's index). One read at a time: a search's word signals and its dense one ask together."""
        key = (self.revision(), limits)
        with self._limited_lock:
            kept = self._limited
            if kept is None or kept[0] != key:
                kept = self._limited = (key, self.filtered_ids(limits.year_from, limits.year_to, limits.source))
        return kept[1] if among is None else kept[1].intersection(among)

    def dense_candidates(self, query: np.ndarray, limit: int, limits: Limits | None = None) -> list[tuple[int, float]]:
        """The `limit` papers nearest to `query` (unit length) by cosine, within `limits` if given."""
        return self.nearest(query, limit, None if limits is None else self.limited_ids(limits))

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """Cosine similarity to every stored vector, computed exactly over the in-memory matrix of
        this index revision (vector_matrix.py). A large index has an HNSW file beside it (ann.py),
        memory-mapped and searched instead, also by a search limited to some rows (years, a source)."""
        if self._ann.available(len(query)):  # a large index: never every vector in memory
            return self._ann.nearest(self.db, query, limit, allowed)
        return self._current_matrix(len(query)).nearest(query, limit, allowed)

    def vectors_of(self, ids: list[int], dimension: int) -> np.ndarray:
        """The stored vectors of the given rows as float32 (zeros for a row without one)."""
        if self._ann.available(dimension):  # a large index: read these rows, not every vector
            found = np.zeros((len(ids), dimension), dtype=np.float32)
            vectors = dict(stored_vectors(self.db, ids, dimension))
            for position, row_id in enumerate(ids):
                if row_id in vectors:
                    found[position] = vectors[row_id]
            return found
        return self._current_matrix(dimension).vectors_of(ids)

    def _current_matrix(self, dimension: int) -> VectorMatrix:
        """The vector matrix of this index revision, or with a background lane (see the class
        docstring) the one before while the lane brings it up to date."""
        matrix = self._matrix
        if matrix is not None and matrix.dimension == dimension and matrix.revision == self.revision():
            return matrix
        if matrix is not None and matrix.dimension == dimension and self.reload_vectors_with is not None:
            with self._reload_lock:
                if not self._vectors_reloading:
                    self._vectors_reloading = True
                    self.reload_vectors_with(lambda: self.load_vectors(dimension))
            return matrix
        return self._refresh(self, dimension)

    def _refresh(self, source: SqliteCandidateQueries, dimension: int) -> VectorMatrix:
        """Bring the matrix up to date through `source`'s connection and publish it (one
        assignment); one refresh at a time, so two never read every vector side by side."""
        with self._refresh_lock:
            matrix = self._matrix = refreshed(source.db, self._matrix, dimension)
            return matrix

    def load_vectors(self, dimension: int, model: str | None = None) -> None:
        """Bring the matrix up to date through a read-only connection of its own; callable from any
        thread. With `model`, nothing is read from an index embedded with another model; nor from
        a large index, whose searches walk its HNSW file."""
        try:
            if self._ann.available(dimension):
                return
            reader = type(self).open(self.path, create=False, read_only=True)  # type: ignore[attr-defined]
            try:
                if model is not None and reader.get_meta("model") not in (None, model):
                    return
                self._refresh(reader, dimension)
            finally:
                reader.close()
        finally:
            self._vectors_reloading = False
