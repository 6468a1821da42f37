"""The paper index: one SQLite file holding references, full text (FTS5) and embeddings.

`Index` is what callers open (`Index.open(location)`); it is put together from parts with
one job each:

- connection.py: transactions, the meta table, the revision counter, SQLite errors in one line;
- sqlite_schema.py: the tables and their migrations;
- paper_rows.py: adding and merging papers (deduplication), replacing and deleting them;
- embedding_rows.py: the stored vectors and the model they came from;
- sqlite_queries.py: the candidate queries search.py asks;
- citation_links.py: which papers cite which works.

This module opens the file and reads papers back. A `postgresql://` location opens a
`PostgresIndex` (postgres.py) instead, which keeps these rules and replaces what is
particular to the database.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from citewise.bib.errors import CitewiseError
from citewise.bib.index.citation_links import CitationLinks
from citewise.bib.index.connection import as_citewise_error, chunks
from citewise.bib.index.location import is_database_url
from citewise.bib.index.paper_rows import PaperRows, every_row_source, title_head
from citewise.bib.index.sqlite_queries import SqliteCandidateQueries
from citewise.bib.index.sqlite_schema import COUNTS_SCHEMA, MIGRATIONS, PAPER_COUNTS, SCHEMA_VERSION
from citewise.bib.model import Reference, normalize_doi, normalize_title, reference_from_dict
from citewise.bib.text import ascii_fold

NEAR_KEY_CANDIDATES = 200
MIN_SHARED_PREFIX = 3
LOCK_TIMEOUT_SECONDS = 30.0  # as PostgresIndex's lock_timeout: a writer waits for the one before
WRITER_CACHE_KIB = 131_072
"""Page cache of a writing connection (at most, filled as pages are read): a field-sized ingest
keeps the B-trees of its lookup indexes in memory instead of reading them again for each paper."""
READER_CACHE_KIB = 8_192
"""Page cache of a long-lived connection that mostly reads (the language server's): each search
reads a few pages, which the OS keeps cached anyway; 128 MB of them would stay in its memory."""


class Index(SqliteCandidateQueries, PaperRows, CitationLinks):
    """An open index. Use `Index.open(location)`; close it or use it as a context manager.

    The index is a SQLite file; a `postgresql://` location opens a `PostgresIndex` instead,
    which keeps this class's logic and replaces what is particular to the database.
    """

    schema_version = SCHEMA_VERSION

    @classmethod
    def open(cls, path: str | Path, create: bool = True, read_only: bool = False,
             page_cache_kib: int = WRITER_CACHE_KIB) -> Index:
        """Open (or create) an index. `read_only` opens an SQLite file with `mode=ro`, so an index
        in a read-only folder or file can be read; commands that only read use it. A writing
        connection that lives long and mostly reads (the language server's) asks for a smaller
        `page_cache_kib` (READER_CACHE_KIB)."""
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
            if read_only and index._stored_schema() < SCHEMA_VERSION and cls._migrated(path):
                index.close()
                index = cls(cls._connect_read_only(path), path)
            index._prepare(read_only, page_cache_kib)
            if not read_only:
                index.sync_ann(opening=True)  # repairs the HNSW file after a crash between it and SQLite
        except sqlite3.DatabaseError as error:
            raise as_citewise_error(path, error) from None
        return index

    @staticmethod
    def _connect(target: str | Path, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False, uri=uri)

    @classmethod
    def _migrated(cls, path: Path) -> bool:
        """Whether a file written by an older citewise, about to be read, could be brought up to
        date first: reading commands query the current schema's tables (`citewise search` failed
        with "no such table: refs_names" on a file from before schema 11). Not when this process
        may not write it, or another holds the write lock past the timeout: it is read as it is."""
        if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            return False
        index = cls(cls._connect(path), path)
        try:
            index._prepare()
        except (CitewiseError, sqlite3.OperationalError) as error:
            if "locked" in str(error) or "busy" in str(error):
                return False
            raise
        finally:
            index.close()
        return True

    @classmethod
    def _connect_read_only(cls, path: Path) -> sqlite3.Connection:
        """`mode=ro`; in a folder where SQLite cannot create the WAL's shared-memory file, `immutable=1`
        (nothing can write there either)."""
        location = path.absolute().as_uri()  # percent-encoded: `?`, `#` and `%` in a folder name stay in the path
        db = cls._connect(f"{location}?mode=ro", uri=True)
        try:
            db.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError:
            db.close()
            db = cls._connect(f"{location}?mode=ro&immutable=1", uri=True)
        return db

    def _prepare(self, read_only: bool = False, page_cache_kib: int = WRITER_CACHE_KIB) -> None:
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
        self.db.execute(f"PRAGMA cache_size=-{page_cache_kib}")
        if version < SCHEMA_VERSION:
            with self.transaction():
                # Another process may have migrated while this one waited for the write lock.
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                for migrate in MIGRATIONS[version:]:
                    migrate(self.db)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def count(self) -> int:
        """How many papers: the count the writes keep (`paper_counts`; the editor's status asks for
        it), counted over the rows only in a file of an older schema read where it cannot be migrated."""
        if self._counts_kept():
            return int(self.db.execute("SELECT papers FROM paper_counts").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM refs").fetchone()[0])

    def pending_count(self) -> int:
        """How many references `needing_embedding` would return (those without a current vector),
        from the counts `count()` reads: counting them over the rows took 0.4 s warm, 2.1 s cold,
        at 300,000 papers."""
        papers, _, current, *_ = self._counts()
        return int(papers or 0) - int(current or 0)

    def all_keys(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT key FROM refs ORDER BY key")]

    def keys_like(self, key: str, limit: int = NEAR_KEY_CANDIDATES) -> list[str]:
        """Keys a typo or two from `key` may be among, for a fuzzy comparison (did you mean...):
        those sharing the longest prefix any key shares with `key`, and with the name the key
        starts with replaced by each first author's family name a typo from it. Each lookup is an
        index search with a limit, so this costs the same however many keys the index holds
        (comparing with every key would read about 200 MB of strings at 3M)."""
        ids = self._longest_prefix_ids(key, limit)
        folded = ascii_fold(key)  # may be longer or shorter than `key`: its own offsets only
        name = re.match(r"[A-Za-z][a-z]*", folded)
        if name:
            for family in sorted(self.similar_families(name.group().lower())):
                ids |= self._longest_prefix_ids(family + folded[name.end():], limit)
        keys: list[str] = []
        for chunk in chunks(sorted(ids), 500):
            marks = ",".join("?" * len(chunk))
            keys.extend(row[0] for row in self.db.execute(f"SELECT key FROM refs WHERE id IN ({marks})", chunk))
        return sorted(keys)

    def _longest_prefix_ids(self, key: str, limit: int) -> set[int]:
        """Up to `limit` rows whose key shares the longest prefix with `key` that any key shares
        (at least MIN_SHARED_PREFIX characters), its length found by halving."""
        shared, longest = 0, len(key)
        while shared < longest:
            middle = (shared + longest + 1) // 2
            if self.key_prefix_ids(key[:middle], 1):
                shared = middle
            else:
                longest = middle - 1
        return self.key_prefix_ids(key[:shared], limit) if shared >= MIN_SHARED_PREFIX else set()

    def get(self, key: str) -> Reference | None:
        """The reference stored under `key`, or merged in under it (then carrying that key)."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Reference]:
        found = {}
        for chunk in chunks(list(keys), 500):
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
        for chunk in chunks(list(row_ids), 500):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, data, sources FROM refs WHERE id IN ({marks})"
            for row_id, data, sources in self.db.execute(query, chunk):
                found[row_id] = (reference_from_dict(json.loads(data)), sources)
        return found

    def ids_for_keys(self, keys: Iterable[str]) -> set[int]:
        ids: set[int] = set()
        for chunk in chunks(list(keys), 500):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id FROM refs WHERE key IN ({marks}) UNION SELECT ref_id FROM aliases WHERE key IN ({marks})"
            ids.update(row[0] for row in self.db.execute(query, chunk + chunk))
        return ids

    def row_ids_for(self, refs: list[Reference]) -> list[int | None]:
        """The row holding each reference: by DOI, else normalized title, else key (or alias)."""
        by_key: dict[str, int] = {}
        for chunk in chunks([ref.key for ref in refs if ref.key], 500):
            marks = ",".join("?" * len(chunk))
            by_key.update(self.db.execute(
                f"SELECT key, id FROM refs WHERE key IN ({marks}) UNION ALL"
                f" SELECT key, ref_id FROM aliases WHERE key IN ({marks})", chunk + chunk).fetchall())
        by_doi = self._ids_by("doi", [normalize_doi(ref.doi) for ref in refs if ref.doi])
        by_title = self._ids_by_title({normalize_title(ref.title) for ref in refs if ref.title})
        return [(ref.doi and by_doi.get(normalize_doi(ref.doi))) or (ref.title and by_title.get(normalize_title(ref.title)))
                or by_key.get(ref.key) or None for ref in refs]

    def _ids_by(self, column: str, values: Iterable[str]) -> dict[str, int]:
        """Value -> first row id of the rows whose indexed `column` holds one of `values`."""
        found: dict[str, int] = {}
        for chunk in chunks([value for value in values if value], 500):
            marks = ",".join("?" * len(chunk))
            for value, row_id in self.db.execute(f"SELECT {column}, id FROM refs WHERE {column} IN ({marks})", chunk):
                found.setdefault(value, row_id)
        return found

    def _ids_by_title(self, titles: Iterable[str]) -> dict[str, int]:
        """Normalized title -> the first row holding it: one seek of `refs_title_head_norm` each.
        Looking up every row sharing a title's first three words ("a survey of": hundreds at
        300,000 papers) and keeping the equal titles read ten times as many rows at 3M."""
        found: dict[str, int] = {}
        for title in titles:
            row = self.db.execute("SELECT min(id) FROM refs WHERE title_head = ? AND title_norm = ?",
                                  (title_head(title), title)).fetchone()
            if row[0] is not None:
                found[title] = row[0]
        return found

    def iter_references(self) -> Iterator[Reference]:
        for (data,) in self.db.execute("SELECT data FROM refs ORDER BY key"):
            yield reference_from_dict(json.loads(data))

    def overview(self) -> dict[str, Any]:
        """Papers, those with a current vector, the model and the papers per source: what the counts
        the writes keep give at once (the MCP tool `library_status`), without `stats`'s reading of
        every citation link (seconds for millions of links) and the graph's file."""
        total, _, current, *_ = (value or 0 for value in self._counts())
        return {"references": total, "embedded": current, "model": self.get_meta("model"), "sources": self._sources()}

    def _sources(self) -> dict[str, int]:
        return dict(sorted(self._source_counts().items()))

    def stats(self) -> dict[str, Any]:
        """Counts and settings for `citewise index stats`."""
        total, embedded, current, with_doi, with_arxiv, with_abstract = (value or 0 for value in self._counts())
        links, citing = self.link_counts()
        return {
            "path": str(self.path),
            "schema_version": self._stored_schema(),
            "references": total,
            "embedded": current,
            "needs_embedding": total - current,
            "stale_embeddings": embedded - current,
            "with_doi": with_doi,
            "with_arxiv": with_arxiv,
            "with_abstract": with_abstract,
            "model": self.get_meta("model"),
            "dimension": int(self.get_meta("dimension") or 0) or None,
            "sources": self._sources(),
            "citation_links": links,
            "citing_papers": citing,
            "size_bytes": self._size_bytes(),
            "graph": self.graph_state(embedded),
        }

    def _counts(self) -> tuple[int | None, ...]:
        """(papers, embedded, embedded and current, with DOI, with arXiv id, with abstract): the row the
        writes keep (`PAPER_COUNTS`), or a count over every row in a file of an older schema that
        could not be migrated (`_migrated`)."""
        if self._counts_kept():
            return tuple(self.db.execute(f"SELECT {', '.join(PAPER_COUNTS)} FROM paper_counts").fetchone())
        totals = ", ".join(f"sum({expression.format(row='refs')})" for expression in PAPER_COUNTS.values())
        return tuple(self.db.execute(f"SELECT {totals} FROM refs").fetchone())

    def _source_counts(self) -> dict[str, int]:
        """Papers per source, as `_counts` reads them."""
        if self._counts_kept():
            return dict(self.db.execute("SELECT source, papers FROM source_counts").fetchall())
        return every_row_source(self.db)

    def _counts_kept(self) -> bool:
        return self._stored_schema() >= COUNTS_SCHEMA

    def _stored_schema(self) -> int:
        """The file's schema: an older one than this citewise's when it was read where it cannot be migrated."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _size_bytes(self) -> int:
        path = Path(self.path)
        return path.stat().st_size if path.exists() else 0

    def references_with_sources(self, possibly_incomplete: bool = False,
                                read_from: Collection[str] | None = None) -> Iterator[tuple[Reference, list[str]]]:
        """Every reference with the sources it was read from. `possibly_incomplete` keeps those without
        a first author, a year or an arXiv id (every paper that may lack authors, a year, a venue or
        an identifier, and some more), `read_from` those read from one of these sources (and some
        more: SQLite's `LIKE` ignores case): the columns choose the rows, and only theirs are parsed.
        Parsing every paper for the few to enrich took 29 s at 300,000 papers."""
        clauses, values = ["1 = 1"], list[str]()
        if possibly_incomplete:  # two index reads: a table scan took 8 minutes cold at 300,000 papers
            clauses.append("id IN (SELECT id FROM refs WHERE first_author = '' OR year = ''"
                           " UNION SELECT id FROM refs WHERE arxiv = '')")
        if read_from is not None:
            clauses.append("(" + " OR ".join(["sources LIKE ? ESCAPE '\\'"] * len(read_from) or ["1 = 0"]) + ")")
            values += ["%" + re.sub(r"([\\%_])", r"\\\1", source) + "%" for source in read_from]
        # Chosen rows are sorted after they are found: walking the key's index reads the table in key order.
        order = "key || ''" if values or possibly_incomplete else "key"
        for data, sources in self.db.execute(f"SELECT data, sources FROM refs WHERE {' AND '.join(clauses)} ORDER BY {order}",
                                             values):
            yield reference_from_dict(json.loads(data)), [source for source in sources.split("\n") if source]
