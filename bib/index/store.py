"""The paper index: one SQLite file holding references, full text (FTS5) and embeddings.

The schema version lives in `PRAGMA user_version`; `MIGRATIONS` upgrade older files in
order and a file written by a newer citewise is refused. Adding a reference merges it
into the copy already stored when both describe the same paper (same DOI, same arXiv
id, or near-identical title with the same first author and year).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
from rapidfuzz import fuzz

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.index.location import is_database_url
from citewise.bib.index.sqlite_queries import SqliteCandidateQueries
from citewise.bib.keys import FreeKeys
from citewise.bib.model import (
    Origin,
    Reference,
    normalize_arxiv,
    normalize_doi,
    normalize_title,
    reference_from_dict,
    reference_to_dict,
)
from citewise.bib.text import ascii_fold

TITLE_MATCH_THRESHOLD = 95
MIN_TITLE_LENGTH_FOR_FUZZY = 20
LOCK_TIMEOUT_SECONDS = 30.0  # as PostgresIndex's lock_timeout: a writer waits for the one before
VECTOR_CHUNK_ROWS = 4096
TITLE_TAIL_CHARS = 12


def _schema_1(db: sqlite3.Connection) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE refs (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            doi TEXT NOT NULL,
            arxiv TEXT NOT NULL,
            title_norm TEXT NOT NULL,
            title_head TEXT NOT NULL,
            first_author TEXT NOT NULL,
            year TEXT NOT NULL,
            sources TEXT NOT NULL,
            data TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            embedding BLOB,
            embedded_hash TEXT
        );
        CREATE INDEX refs_key_nocase ON refs(key COLLATE NOCASE);
        CREATE INDEX refs_doi ON refs(doi);
        CREATE INDEX refs_arxiv ON refs(arxiv);
        CREATE INDEX refs_title_head ON refs(title_head);
        CREATE INDEX refs_author_year ON refs(first_author, year);
        CREATE VIRTUAL TABLE refs_fts USING fts5(
            title, authors, abstract, keywords, key,
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        """
    )


def _run_statements(db: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _schema_2(db: sqlite3.Connection) -> None:
    """Other keys of a merged paper (a .bib key for a paper first read from a digest), still found by them."""
    db.execute("CREATE TABLE aliases (key TEXT PRIMARY KEY, ref_id INTEGER NOT NULL)")
    db.execute("CREATE INDEX aliases_ref ON aliases(ref_id)")


def _schema_3(db: sqlite3.Connection) -> None:
    """Matching columns recomputed with the one ASCII fold (Ødegård matched as odegard, not degard)."""
    rows = db.execute("SELECT id, data FROM refs").fetchall()
    for row_id, data in rows:
        ref = reference_from_dict(json.loads(data))
        title = normalize_title(ref.title)
        db.execute("UPDATE refs SET title_norm = ?, title_head = ?, first_author = ? WHERE id = ?",
                   (title, _title_head(title), _first_author(ref), row_id))


def _schema_4(db: sqlite3.Connection) -> None:
    """Near-duplicate lookup by exact keys (first author, year, end of title), so ingest stays linear."""
    db.execute(f"CREATE INDEX IF NOT EXISTS refs_author_year_tail ON refs(first_author, year, {Index.TITLE_TAIL_SQL})")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_schema_1, _schema_2, _schema_3, _schema_4]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class IngestSummary:
    """What adding a batch of references did."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[SourceError] = field(default_factory=list)

    def absorb(self, other: IngestSummary) -> None:
        self.added += other.added
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class PendingEmbedding:
    """One reference's row id and the text its embedding must represent."""

    row_id: int
    text: str


def embedding_text(ref: Reference) -> str:
    """What the dense model sees of a reference: its title, then its abstract."""
    return f"{ref.title}. {ref.abstract}".strip(" .") if ref.abstract else ref.title


class _KeysInIndex:
    """The citation keys and aliases an index holds, as a container for `FreeKeys`."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __contains__(self, key: object) -> bool:
        taken = "SELECT 1 FROM refs WHERE key = ? UNION ALL SELECT 1 FROM aliases WHERE key = ?"
        return self.db.execute(taken, (key, key)).fetchone() is not None


def _first_author(ref: Reference) -> str:
    return ascii_fold(ref.authors[0].family).lower().strip() if ref.authors else ""


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _content(ref: Reference) -> dict:
    data = reference_to_dict(ref)
    data.pop("origin")
    return data


class Index(SqliteCandidateQueries):
    """An open index. Use `Index.open(location)`; close it or use it as a context manager.

    The index is a SQLite file; a `postgresql://` location opens a `PostgresIndex` instead,
    which keeps this class's logic and replaces what is particular to the database.
    """

    schema_version = SCHEMA_VERSION
    TITLE_TAIL_SQL = f"substr(title_norm, -{TITLE_TAIL_CHARS})"
    """The last `TITLE_TAIL_CHARS` characters of the normalised title, in this database's SQL."""

    def __init__(self, db: sqlite3.Connection, path: Path | str):
        self.db = db
        self.path = path
        self._depth = 0
        self._cache_lock = threading.Lock()
        self._vector_cache = None
        self._family_cache = None

    @classmethod
    def open(cls, path: str | Path, create: bool = True, read_only: bool = False) -> Index:
        """Open (or create) an index. `read_only` opens an SQLite file with `mode=ro`, so an index
        in a read-only folder or file can be read; commands that only read use it."""
        if is_database_url(path):
            from citewise.bib.index.postgres import PostgresIndex

            return PostgresIndex.connect(str(path), create and not read_only)
        path = Path(path)
        if not path.exists() and (read_only or not create):
            raise CitewiseError(f"{path}: no index here; build one with `citewise index add`")
        if create and not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            index = cls(cls._connect_read_only(path) if read_only else cls._connect(path), path)
            index._prepare(read_only)
        except sqlite3.DatabaseError as error:
            raise _as_citewise_error(path, error) from None
        return index

    @staticmethod
    def _connect(target: str | Path, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False, uri=uri)

    @classmethod
    def _connect_read_only(cls, path: Path) -> sqlite3.Connection:
        """`mode=ro`; in a folder where SQLite cannot create the WAL's shared-memory file, `immutable=1`
        (nothing can write there either)."""
        location = "file:" + quote(str(path.absolute()))
        db = cls._connect(f"{location}?mode=ro", uri=True)
        try:
            db.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError:
            db.close()
            db = cls._connect(f"{location}?mode=ro&immutable=1", uri=True)
        return db

    def _prepare(self, read_only: bool = False) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CitewiseError(
                f"{self.path}: index written by a newer citewise (schema {version}, this one reads up to "
                f"{SCHEMA_VERSION}); upgrade citewise or use another --index"
            )
        if read_only:
            return
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if version < SCHEMA_VERSION:
            with self.transaction():
                # Another process may have migrated while this one waited for the write lock.
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                for migrate in MIGRATIONS[version:]:
                    migrate(self.db)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Index:
        return self

    @contextmanager
    def explained(self) -> Iterator[Index]:
        """Inside the block, an SQLite failure becomes one line: locked, read-only, or damaged
        (after `PRAGMA quick_check`) with the way out."""
        try:
            yield self
        except sqlite3.DatabaseError as error:
            raise _as_citewise_error(self.path, error, self.db) from None

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self._commit()
        finally:
            self._depth = 0

    def _begin(self) -> None:
        """Start a write transaction; one writer at a time (others wait up to LOCK_TIMEOUT_SECONDS)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise _as_citewise_error(self.path, error) from None

    def _commit(self) -> None:
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            self.db.execute("ROLLBACK")
            raise _as_citewise_error(self.path, error) from None

    def get_meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def _bump_revision(self) -> None:
        self.db.execute(
            "INSERT INTO meta(name, value) VALUES ('revision', '1') ON CONFLICT(name)"
            " DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
        )

    def revision(self) -> int:
        """A counter that changes whenever references or embeddings change."""
        return int(self.get_meta("revision") or 0)

    # Reading

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM refs").fetchone()[0]

    def all_keys(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT key FROM refs ORDER BY key")]

    def get(self, key: str) -> Reference | None:
        """The reference stored under `key`, or merged in under it (then carrying that key)."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Reference]:
        found = {}
        for chunk in _chunks(list(keys), 500):
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT key, data FROM refs WHERE key IN ({marks}) UNION ALL"
                f" SELECT aliases.key, data FROM aliases JOIN refs ON refs.id = aliases.ref_id"
                f" WHERE aliases.key IN ({marks})"
            )
            for key, data in self.db.execute(query, chunk + chunk):
                found[key] = Reference(**{**reference_from_dict(json.loads(data)).__dict__, "key": key})
        return found

    def get_by_ids(self, row_ids: Iterable[int]) -> dict[int, tuple[Reference, str]]:
        """Row id -> (reference, the sources it was read from, newline-separated)."""
        found = {}
        for chunk in _chunks(list(row_ids), 500):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, data, sources FROM refs WHERE id IN ({marks})"
            for row_id, data, sources in self.db.execute(query, chunk):
                found[row_id] = (reference_from_dict(json.loads(data)), sources)
        return found

    def ids_for_keys(self, keys: Iterable[str]) -> set[int]:
        ids: set[int] = set()
        for chunk in _chunks(list(keys), 500):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id FROM refs WHERE key IN ({marks}) UNION SELECT ref_id FROM aliases WHERE key IN ({marks})"
            ids.update(row[0] for row in self.db.execute(query, chunk + chunk))
        return ids

    def row_ids_for(self, refs: list[Reference]) -> list[int | None]:
        """The row holding each reference: by DOI, else normalized title, else key (or alias)."""
        by_key: dict[str, int] = {}
        for chunk in _chunks([ref.key for ref in refs if ref.key], 500):
            marks = ",".join("?" * len(chunk))
            by_key.update(self.db.execute(
                f"SELECT key, id FROM refs WHERE key IN ({marks}) UNION ALL"
                f" SELECT key, ref_id FROM aliases WHERE key IN ({marks})", chunk + chunk).fetchall())
        by_doi = self._ids_by("doi", [normalize_doi(ref.doi) for ref in refs if ref.doi])
        by_title = self._ids_by("title_norm", [normalize_title(ref.title) for ref in refs if ref.title])
        return [(ref.doi and by_doi.get(normalize_doi(ref.doi))) or (ref.title and by_title.get(normalize_title(ref.title)))
                or by_key.get(ref.key) or None for ref in refs]

    def _ids_by(self, column: str, values: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks([value for value in values if value], 500):
            marks = ",".join("?" * len(chunk))
            for value, row_id in self.db.execute(f"SELECT {column}, id FROM refs WHERE {column} IN ({marks})", chunk):
                found.setdefault(value, row_id)
        return found

    def iter_references(self) -> Iterator[Reference]:
        for (data,) in self.db.execute("SELECT data FROM refs ORDER BY key"):
            yield reference_from_dict(json.loads(data))

    def stats(self) -> dict:
        """Counts and settings for `citewise index stats`."""
        total, embedded, current, with_doi, with_arxiv, with_abstract = (value or 0 for value in self._counts())
        sources: dict[str, int] = {}
        for (joined,) in self.db.execute("SELECT sources FROM refs"):
            for source in joined.split("\n"):
                sources[source] = sources.get(source, 0) + 1
        return {
            "path": str(self.path),
            "schema_version": self.schema_version,
            "references": total,
            "embedded": current,
            "needs_embedding": total - current,
            "stale_embeddings": embedded - current,
            "with_doi": with_doi,
            "with_arxiv": with_arxiv,
            "with_abstract": with_abstract,
            "model": self.get_meta("model"),
            "dimension": int(self.get_meta("dimension") or 0) or None,
            "sources": dict(sorted(sources.items())),
            "size_bytes": self._size_bytes(),
        }

    def _counts(self) -> tuple:
        """(papers, embedded, embedded and current, with DOI, with arXiv id, with abstract)."""
        return self.db.execute(
            "SELECT count(*), count(embedding), sum(embedding IS NOT NULL AND embedded_hash = text_hash),"
            " sum(doi != ''), sum(arxiv != ''), sum(json_extract(data, '$.abstract') != '') FROM refs"
        ).fetchone()

    def _size_bytes(self) -> int:
        path = Path(self.path)
        return path.stat().st_size if path.exists() else 0

    # Deduplication

    def find_duplicate(self, ref: Reference) -> str | None:
        """The key under which the same paper is already stored, if it is."""
        row_id = self._find_duplicate_id(ref)
        if row_id is None:
            return None
        return self.db.execute("SELECT key FROM refs WHERE id = ?", (row_id,)).fetchone()[0]

    def _find_duplicate_id(self, ref: Reference) -> int | None:
        doi, arxiv = normalize_doi(ref.doi), normalize_arxiv(ref.arxiv)
        if doi:
            row = self.db.execute("SELECT id FROM refs WHERE doi = ?", (doi,)).fetchone()
            if row:
                return row[0]
        if arxiv:
            row = self.db.execute("SELECT id FROM refs WHERE arxiv = ?", (arxiv,)).fetchone()
            if row:
                return row[0]
        title = normalize_title(ref.title)
        if title:
            match = self._same_title(ref, title, doi, arxiv)
            if match is not None:
                return match
        elif ref.key:
            row = self.db.execute("SELECT id FROM refs WHERE key = ? AND title_norm = ''", (ref.key,)).fetchone()
            if row:
                return row[0]
        return None

    def _same_title(self, ref: Reference, title: str, doi: str, arxiv: str) -> int | None:
        """A stored paper with this title, or a near-identical one by the same first author in the same year.

        Candidates come from exact-key lookups only, so each costs the same however large the
        index grows: the same first three title words, or the same author, year and last
        `TITLE_TAIL_CHARS` characters (a title 95 % alike keeps one end or the other)."""
        author, year = _first_author(ref), ref.year.strip()
        columns = "SELECT id, title_norm, first_author, year, doi, arxiv FROM refs"
        rows = self.db.execute(f"{columns} WHERE title_head = ? AND (title_norm = ? OR (first_author = ? AND year = ?))",
                               (_title_head(title), title, author, year)).fetchall()
        if author and year:
            rows += self.db.execute(f"{columns} WHERE first_author = ? AND year = ? AND {self.TITLE_TAIL_SQL} = ?",
                                    (author, year, title[-TITLE_TAIL_CHARS:])).fetchall()
        for row_id, other_title, other_author, other_year, other_doi, other_arxiv in rows:
            if doi and other_doi and doi != other_doi or arxiv and other_arxiv and arxiv != other_arxiv:
                continue
            if author and other_author and author != other_author or year and other_year and year != other_year:
                continue
            if title == other_title:
                return row_id
            complete = author and other_author and year and other_year
            long_enough = min(len(title), len(other_title)) >= MIN_TITLE_LENGTH_FOR_FUZZY
            if complete and long_enough and fuzz.ratio(title, other_title) >= TITLE_MATCH_THRESHOLD:
                return row_id
        return None

    # Writing

    def add_references(
        self, refs: Iterable[Reference], on_progress: Callable[[int], None] | None = None
    ) -> IngestSummary:
        """Add or merge every reference, all in one transaction; unusable ones are counted as failed."""
        summary = IngestSummary()
        free_keys = FreeKeys(_KeysInIndex(self.db))
        with self.transaction():
            for done, ref in enumerate(refs, 1):
                try:
                    outcome = self._merge_or_insert(ref, free_keys)
                except SourceError as error:
                    summary.failed += 1
                    summary.errors.append(error)
                else:
                    setattr(summary, outcome, getattr(summary, outcome) + 1)
                if on_progress:
                    on_progress(done)
        return summary

    def upsert(self, ref: Reference) -> str:
        """Store `ref` (merged into its duplicate if there is one); the key it is stored under."""
        with self.transaction():
            self._merge_or_insert(ref, FreeKeys(_KeysInIndex(self.db)))
            row_id = self._find_duplicate_id(ref)
            return self.db.execute("SELECT key FROM refs WHERE id = ?", (row_id,)).fetchone()[0]

    def delete(self, key: str) -> None:
        with self.transaction():
            row = self.db.execute("SELECT id FROM refs WHERE key = ?", (key,)).fetchone()
            if row:
                self.db.execute("DELETE FROM refs WHERE id = ?", row)
                self._forget_text(row[0])
                self.db.execute("DELETE FROM aliases WHERE ref_id = ?", row)
                self._bump_revision()

    def references_with_sources(self) -> Iterator[tuple[Reference, list[str]]]:
        """Every reference with the sources it was read from."""
        for data, sources in self.db.execute("SELECT data, sources FROM refs ORDER BY key"):
            yield reference_from_dict(json.loads(data)), [source for source in sources.split("\n") if source]

    def replace_reference(self, key: str, ref: Reference) -> str:
        """Store `ref` in place of the reference under `key`. When `ref.key` is another, free key the
        reference moves to it and `key` stays an alias, so everything citing `key` still finds it.
        Returns the key it is stored under."""
        with self.transaction():
            row = self.db.execute("SELECT id, sources FROM refs WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise CitewiseError(f"{self.path}: no reference with key {key!r}")
            row_id, sources = row
            new_key = key
            if ref.key and ref.key != key:
                new_key = FreeKeys(_KeysInIndex(self.db)).free(ref.key)
                self.db.execute("INSERT INTO aliases(key, ref_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, row_id))
            self._write_row(row_id, ref, new_key, sources)
            self._bump_revision()
        return new_key

    def _merge_or_insert(self, ref: Reference, free_keys: FreeKeys) -> str:
        """'added', 'updated' or 'skipped'; a new paper whose key is taken gets the next free suffix."""
        if not ref.key and not ref.title:
            raise SourceError(ref.origin.source if ref.origin else "", ref.origin.line if ref.origin else None,
                              "reference has neither a key nor a title")
        source = ref.origin.source if ref.origin else ""
        row_id = self._find_duplicate_id(ref)
        if row_id is None:
            self._write_row(None, ref, free_keys.free(ref.key or "ref"), source)
            self._bump_revision()
            return "added"
        data, sources = self.db.execute("SELECT data, sources FROM refs WHERE id = ?", (row_id,)).fetchone()
        stored = reference_from_dict(json.loads(data))
        if ref.key and ref.key != stored.key:
            self.db.execute("INSERT INTO aliases(key, ref_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (ref.key, row_id))
        merged = stored.merged_with(ref)
        known_sources = sources.split("\n")
        if source and source not in known_sources:
            known_sources.append(source)
        if _content(merged) == _content(stored):
            if len(known_sources) != len(sources.split("\n")):
                self.db.execute("UPDATE refs SET sources = ? WHERE id = ?", ("\n".join(known_sources), row_id))
            return "skipped"
        self._write_row(row_id, merged, stored.key, "\n".join(known_sources))
        self._bump_revision()
        return "updated"

    def _write_row(self, row_id: int | None, ref: Reference, key: str, sources: str) -> None:
        ref = Reference(**{**ref.__dict__, "key": key})
        if ref.origin is None and sources:
            ref.origin = Origin(sources.split("\n")[0])
        title = normalize_title(ref.title)
        values = (
            key, normalize_doi(ref.doi), normalize_arxiv(ref.arxiv), title, _title_head(title),
            _first_author(ref), ref.year.strip(), sources, json.dumps(reference_to_dict(ref), ensure_ascii=False),
            _text_hash(embedding_text(ref)),
        )
        if row_id is None:
            row_id = self.db.execute(
                "INSERT INTO refs(key, doi, arxiv, title_norm, title_head, first_author, year, sources, data,"
                " text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                values,
            ).fetchone()[0]
        else:
            self.db.execute(
                "UPDATE refs SET key = ?, doi = ?, arxiv = ?, title_norm = ?, title_head = ?, first_author = ?,"
                " year = ?, sources = ?, data = ?, text_hash = ? WHERE id = ?",
                (*values, row_id),
            )
            self._forget_text(row_id)
        self._index_text(row_id, ref)

    def _index_text(self, row_id: int, ref: Reference) -> None:
        """Make the row findable by its words (FTS5 here)."""
        authors = " ".join(f"{a.given} {a.family}" for a in ref.authors)
        self.db.execute(
            "INSERT INTO refs_fts(rowid, title, authors, abstract, keywords, key) VALUES (?, ?, ?, ?, ?, ?)",
            (row_id, ref.title, authors, ref.abstract, " ".join(ref.keywords), ref.key),
        )

    def _forget_text(self, row_id: int) -> None:
        self.db.execute("DELETE FROM refs_fts WHERE rowid = ?", (row_id,))

    # Embeddings

    def check_model(self, name: str, dimension: int) -> None:
        """Refuse a model other than the one the stored vectors came from."""
        stored_name, stored_dimension = self.get_meta("model"), self.get_meta("dimension")
        if stored_name is None:
            return
        if stored_name != name or int(stored_dimension or 0) != dimension:
            raise CitewiseError(
                f"{self.path}: embedded with {stored_name} ({stored_dimension} dims) but the model is {name} "
                f"({dimension} dims); run `citewise index reembed` to re-embed with it"
            )

    def set_model(self, name: str, dimension: int) -> None:
        with self.transaction():
            self.set_meta("model", name)
            self.set_meta("dimension", str(dimension))

    def clear_embeddings(self) -> None:
        with self.transaction():
            self.db.execute("UPDATE refs SET embedding = NULL, embedded_hash = NULL")
            self.db.execute("DELETE FROM meta WHERE name IN ('model', 'dimension')")
            self._bump_revision()

    def needing_embedding(self) -> list[PendingEmbedding]:
        """References never embedded or whose title/abstract changed since."""
        rows = self.db.execute(
            "SELECT id, data FROM refs WHERE embedding IS NULL OR embedded_hash IS DISTINCT FROM text_hash ORDER BY id"
        )
        return [PendingEmbedding(row_id, embedding_text(reference_from_dict(json.loads(data)))) for row_id, data in rows]

    def store_embeddings(self, row_ids: list[int], vectors: np.ndarray) -> None:
        """Save normalized vectors (stored as float16) for the given rows, in one transaction."""
        half = np.asarray(vectors, dtype=np.float16)
        with self.transaction():
            self.db.executemany(
                "UPDATE refs SET embedding = ?, embedded_hash = text_hash WHERE id = ?",
                ((half[i].tobytes(), row_id) for i, row_id in enumerate(row_ids)),
            )
            self._bump_revision()

    def load_embeddings(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, float16 matrix) of every embedded reference, filled a chunk of rows at a time to bound memory."""
        total = self.db.execute("SELECT count(*) FROM refs WHERE embedding IS NOT NULL").fetchone()[0]
        ids = np.empty(total, dtype=np.int64)
        matrix = np.empty((total, dimension), dtype=np.float16)
        rows = self.db.execute("SELECT id, embedding FROM refs WHERE embedding IS NOT NULL ORDER BY id")
        filled = 0
        while filled < total and (chunk := rows.fetchmany(min(VECTOR_CHUNK_ROWS, total - filled))):
            end = filled + len(chunk)
            ids[filled:end] = [row_id for row_id, _ in chunk]
            matrix[filled:end] = np.frombuffer(b"".join(blob for _, blob in chunk), dtype=np.float16).reshape(len(chunk), dimension)
            filled = end
        return ids[:filled], matrix[:filled]


def _title_head(title: str) -> str:
    return " ".join(title.split()[:3])


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _as_citewise_error(path: Path | str, error: sqlite3.DatabaseError, db: sqlite3.Connection | None = None) -> CitewiseError:
    """One line for an SQLite failure: locked, not a database, damaged (checked with `PRAGMA quick_check`)."""
    message = str(error)
    if "locked" in message or "busy" in message:
        return CitewiseError(f"{path}: index is locked by another process; try again when it has finished")
    if "not a database" in message:
        return CitewiseError(f"{path}: not a citewise index (not an SQLite database)")
    if "readonly" in message or "read-only" in message:
        return CitewiseError(f"{path}: index is read-only here; reading commands work, adding needs a writable file and folder")
    problem = message if "malformed" in message else quick_check(db)
    if problem:
        return CitewiseError(f"{path}: the index is damaged ({' '.join(problem.split())}); `citewise index rebuild` "
                             f"re-reads the files it was built from into a new index")
    return CitewiseError(f"{path}: {message}")


def quick_check(db: sqlite3.Connection | None) -> str:
    """SQLite's first complaint about the file, or "" when it finds none (or cannot be asked)."""
    if db is None:
        return ""
    try:
        first = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as error:
        return str(error)
    return "" if first == "ok" else first
