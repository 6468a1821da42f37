"""Papers as rows of the index: adding, merging duplicates, replacing and deleting them.

Adding a reference merges it into the copy already stored when both describe the same paper:
the same DOI, the same arXiv id, or a near-identical title by the same first author in the same
year (`TITLE_MATCH_THRESHOLD`). The matching columns (`title_head`, `first_author`, the title's
tail) are exact keys, so each lookup costs the same however large the index grows. A new paper
whose key is taken gets the next free suffix (`FreeKeys`, the one suffix rule).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.index.connection import Database, IndexConnection
from citewise.bib.index.embedding_rows import embedding_text
from citewise.bib.keys import FreeKeys, make_key
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
TITLE_TAIL_CHARS = 12


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


def first_author(ref: Reference) -> str:
    """The matching column for the first author: family name, ASCII-folded, lower case."""
    return ascii_fold(ref.authors[0].family).lower().strip() if ref.authors else ""


def family_variants(family: str) -> set[str]:
    """A family name and every string one character shorter (its deletion neighbourhood): two
    names one typo apart (a letter wrong, missing, added, or two swapped) share one of these."""
    return {family} | {family[:cut] + family[cut + 1:] for cut in range(len(family))}


def every_row_source(db: Database) -> dict[str, int]:
    """Papers per source, counted over every row."""
    counts: dict[str, int] = {}
    for (joined,) in db.execute("SELECT sources FROM refs"):
        for source in joined.split("\n"):
            counts[source] = counts.get(source, 0) + 1
    return counts


def count_every_row_source(db: Database) -> None:
    """Fill `source_counts` from every row (a migration's one pass; writes keep it in step after)."""
    db.execute("DELETE FROM source_counts")
    db.executemany("INSERT INTO source_counts(source, papers) VALUES (?, ?)", sorted(every_row_source(db).items()))


def title_head(title: str) -> str:
    """The matching column for a normalised title: its first three words."""
    return " ".join(title.split()[:3])


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _content(ref: Reference) -> dict[str, Any]:
    data = reference_to_dict(ref)
    data.pop("origin")
    return data


class _KeysInIndex:
    """The citation keys and aliases an index holds, as a container for `FreeKeys`."""

    def __init__(self, db: Database):
        self.db = db

    def __contains__(self, key: object) -> bool:
        taken = "SELECT 1 FROM refs WHERE key = ? UNION ALL SELECT 1 FROM aliases WHERE key = ?"
        return self.db.execute(taken, (key, key)).fetchone() is not None


class PaperRows(IndexConnection):
    """Deduplication and the writes that add, merge, replace and delete papers (with their words for search)."""

    TITLE_TAIL_SQL = f"substr(title_norm, -{TITLE_TAIL_CHARS})"
    """The last `TITLE_TAIL_CHARS` characters of the normalised title, in this database's SQL."""

    def find_duplicate(self, ref: Reference) -> str | None:
        """The key under which the same paper is already stored, if it is."""
        row_id = self._find_duplicate_id(ref)
        if row_id is None:
            return None
        return str(self.db.execute("SELECT key FROM refs WHERE id = ?", (row_id,)).fetchone()[0])

    def _find_duplicate_id(self, ref: Reference) -> int | None:
        doi, arxiv = normalize_doi(ref.doi), normalize_arxiv(ref.arxiv)
        if doi:
            row = self.db.execute("SELECT id FROM refs WHERE doi = ?", (doi,)).fetchone()
            if row:
                return int(row[0])
        if arxiv:
            row = self.db.execute("SELECT id FROM refs WHERE arxiv = ?", (arxiv,)).fetchone()
            if row:
                return int(row[0])
        title = normalize_title(ref.title)
        if title:
            match = self._same_title(ref, title, doi, arxiv)
            if match is not None:
                return match
        elif ref.key:
            row = self.db.execute("SELECT id FROM refs WHERE key = ? AND title_norm = ''", (ref.key,)).fetchone()
            if row:
                return int(row[0])
        return None

    def _same_title(self, ref: Reference, title: str, doi: str, arxiv: str) -> int | None:
        """A stored paper with this title, or a near-identical one by the same first author in the same year.

        Candidates come from exact-key lookups only (every column of the index used is given),
        so each costs the same however large the index grows, even when thousands of papers share
        a title's first words or an author and year: the same title, or the same author, year and
        first three title words or last `TITLE_TAIL_CHARS` characters (a title 95 % alike keeps
        one end or the other)."""
        author, year, head = first_author(ref), ref.year.strip(), title_head(title)
        columns = "SELECT id, title_norm, first_author, year, doi, arxiv FROM refs"
        rows = self.db.execute(f"{columns} WHERE title_head = ? AND title_norm = ?", (head, title)).fetchall()
        if author and year:
            rows += self.db.execute(f"{columns} WHERE first_author = ? AND year = ? AND title_head = ?",
                                    (author, year, head)).fetchall()
            rows += self.db.execute(f"{columns} WHERE first_author = ? AND year = ? AND {self.TITLE_TAIL_SQL} = ?",
                                    (author, year, title[-TITLE_TAIL_CHARS:])).fetchall()
        for row_id, other_title, other_author, other_year, other_doi, other_arxiv in rows:
            if doi and other_doi and doi != other_doi or arxiv and other_arxiv and arxiv != other_arxiv:
                continue
            if author and other_author and author != other_author or year and other_year and year != other_year:
                continue
            if title == other_title:
                return int(row_id)
            complete = author and other_author and year and other_year
            long_enough = min(len(title), len(other_title)) >= MIN_TITLE_LENGTH_FOR_FUZZY
            if complete and long_enough and fuzz.ratio(title, other_title) >= TITLE_MATCH_THRESHOLD:
                return int(row_id)
        return None

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
            return str(self.db.execute("SELECT key FROM refs WHERE id = ?", (row_id,)).fetchone()[0])

    def delete(self, key: str) -> None:
        with self.transaction():
            found = self.db.execute("SELECT id, sources FROM refs WHERE key = ?", (key,)).fetchone()
            if found:
                row, sources = (found[0],), found[1]
                self.db.execute("DELETE FROM refs WHERE id = ?", row)
                self._count_sources(sources.split("\n"), -1)
                self._forget_text(row[0])
                self.db.execute("DELETE FROM aliases WHERE ref_id = ?", row)
                self.db.execute("DELETE FROM citations WHERE citing = ?", row)
                self._bump_revision()

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
        """'added', 'updated' or 'skipped'; a new paper whose key is taken gets the next free suffix,
        one without a key the key formula's (streamed readers leave keys to the index)."""
        if not ref.key and not ref.title:
            raise SourceError(ref.origin.source if ref.origin else "", ref.origin.line if ref.origin else None,
                              "reference has neither a key nor a title")
        source = ref.origin.source if ref.origin else ""
        row_id = self._find_duplicate_id(ref)
        if row_id is None:
            self._write_row(None, ref, free_keys.free(ref.key or make_key(ref)), source)
            self._count_sources([source], 1)
            self._bump_revision()
            return "added"
        found = self.db.execute("SELECT data, sources FROM refs WHERE id = ?", (row_id,)).fetchone()
        if found is None:  # a lookup index names a row the table does not hold: the file is damaged
            raise sqlite3.DatabaseError("an index entry points at a missing row")
        data, sources = found
        stored = reference_from_dict(json.loads(data))
        if ref.key and ref.key != stored.key:
            self.db.execute("INSERT INTO aliases(key, ref_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (ref.key, row_id))
        merged = stored.merged_with(ref)
        known_sources = sources.split("\n")
        if source and source not in known_sources:
            known_sources.append(source)
            self._count_sources([source], 1)
        if _content(merged) == _content(stored):
            if len(known_sources) != len(sources.split("\n")):
                self.db.execute("UPDATE refs SET sources = ? WHERE id = ?", ("\n".join(known_sources), row_id))
            return "skipped"
        self._write_row(row_id, merged, stored.key, "\n".join(known_sources))
        self._bump_revision()
        return "updated"

    def _count_sources(self, sources: list[str], change: int) -> None:
        """Keep `source_counts` (papers per source, which `index stats` shows) in step with the rows."""
        self.db.executemany("INSERT INTO source_counts(source, papers) VALUES (?, ?)"
                            " ON CONFLICT(source) DO UPDATE SET papers = source_counts.papers + excluded.papers",
                            [(source, change) for source in sources])
        if change < 0:
            self.db.executemany("DELETE FROM source_counts WHERE source = ? AND papers <= 0", [(source,) for source in sources])

    def _write_row(self, row_id: int | None, ref: Reference, key: str, sources: str) -> None:
        ref = Reference(**{**ref.__dict__, "key": key})
        if ref.origin is None and sources:
            ref.origin = Origin(sources.split("\n")[0])
        title = normalize_title(ref.title)
        values = (
            key, normalize_doi(ref.doi), normalize_arxiv(ref.arxiv), title, title_head(title),
            first_author(ref), ref.year.strip(), sources, json.dumps(reference_to_dict(ref), ensure_ascii=False),
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
        """Make the row findable by its words (FTS5 here), and its first author's family name by a
        typo of it (`family_variants`, once per distinct name; a name no row holds any more is
        harmless, the lookup goes through `first_author`)."""
        authors = " ".join(f"{a.given} {a.family}" for a in ref.authors)
        self.db.execute(
            "INSERT INTO refs_fts(rowid, title, authors, abstract, keywords, key) VALUES (?, ?, ?, ?, ?, ?)",
            (row_id, ref.title, authors, ref.abstract, " ".join(ref.keywords), ref.key),
        )
        self.db.execute("INSERT INTO refs_names(rowid, title, authors, key) VALUES (?, ?, ?, ?)",
                        (row_id, ref.title, authors, ref.key))
        family = first_author(ref)
        if family and self.db.execute("SELECT 1 FROM family_variants WHERE variant = ? AND family = ?",
                                      (family, family)).fetchone() is None:
            self.db.executemany("INSERT OR IGNORE INTO family_variants(variant, family) VALUES (?, ?)",
                                ((variant, family) for variant in sorted(family_variants(family))))

    def _forget_text(self, row_id: int) -> None:
        # refs_names keeps no text (sqlite_schema.NAMES_TABLE): a row leaves it by the 'delete'
        # command with the values it went in with, which refs_fts holds.
        indexed = self.db.execute("SELECT title, authors, key FROM refs_fts WHERE rowid = ?", (row_id,)).fetchone()
        if indexed is not None:
            self.db.execute("INSERT INTO refs_names(refs_names, rowid, title, authors, key) VALUES ('delete', ?, ?, ?, ?)",
                            (row_id, *indexed))
        self.db.execute("DELETE FROM refs_fts WHERE rowid = ?", (row_id,))
