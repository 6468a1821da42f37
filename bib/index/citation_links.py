"""Citation links: which papers of the index cite which works, as the sources that carry reference
lists say (Crossref's `reference` list when a paper is enriched or added from Crossref).

A link is the citing paper's row and the cited work's identifier: its DOI (`10.…`, normalised)
or its arXiv id (`arxiv:2301.00001`). The cited work need not be in the index; the links that
name a work it holds are found through that work's DOI or arXiv id when asked. Links go with
their paper when it is deleted. The SQL is shared by SQLite and PostgreSQL.

Suggestions ask two questions of them (server/features/ranking.py):
- `cited_with`: which works do the index's papers cite together with these papers (co-citation)?
- `citing`: which index papers cite these papers (papers that cite what the draft cites)?
Both are bounded, so that a work cited by a hundred thousand papers costs what one cited by ten does.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

from citewise.bib.index.connection import IndexConnection, chunks
from citewise.bib.model import normalize_arxiv, normalize_doi

ID_CHUNK = 500
CITING_LIMIT = 2_000
"""At most this many citing papers are read per question (the most recent rows first)."""


def link_identifier(doi: str = "", arxiv: str = "") -> str:
    """The identifier a link names a work by: its normalised DOI, else `arxiv:` and its arXiv id."""
    if doi:
        return normalize_doi(doi)
    return f"arxiv:{normalize_arxiv(arxiv)}" if arxiv else ""


class CitationLinks(IndexConnection):
    """The citation links of an index (see the module docstring)."""

    _links_table: bool | None = None

    def has_links_table(self) -> bool:
        """False for a SQLite file written before links existed and read where it cannot be
        brought up to date (`Index._migrated`): it answers every question with nothing."""
        if self._links_table is None:
            try:
                self.db.execute("SELECT 1 FROM citations LIMIT 1").fetchall()
                self._links_table = True
            except sqlite3.OperationalError:
                self._links_table = False
        return self._links_table

    def set_cited(self, key: str, cited: Iterable[str]) -> int:
        """Replace the links of the paper under `key` with `cited` (identifiers from
        `link_identifier`); returns how many it has now. An unknown key stores nothing."""
        wanted = sorted({identifier for identifier in cited if identifier})
        with self.transaction():
            row = self.db.execute("SELECT id FROM refs WHERE key = ?", (key,)).fetchone()
            if row is None:
                return 0
            self.db.execute("DELETE FROM citations WHERE citing = ?", (row[0],))
            self.db.executemany("INSERT INTO citations(citing, cited) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                [(row[0], identifier) for identifier in wanted])
            self._bump_revision()
        return len(wanted)

    def cited_by(self, key: str) -> list[str]:
        """The identifiers the paper under `key` cites."""
        if not self.has_links_table():
            return []
        rows = self.db.execute("SELECT cited FROM citations JOIN refs ON refs.id = citations.citing"
                               " WHERE refs.key = ? ORDER BY cited", (key,)).fetchall()
        return [cited for (cited,) in rows]

    def cited_with(self, row_ids: Iterable[int], excluded: Iterable[int] = ()) -> Counter[int]:
        """Index rows cited together with any of `row_ids` by a paper of the index (not one of
        `excluded`), each counted once per citing paper."""
        if not self.has_links_table():
            return Counter()
        mine = self._identifiers_of(row_ids)
        citing = self._citing_rows(mine) - set(excluded)
        together: Counter[str] = Counter()
        for part in chunks(sorted(citing), ID_CHUNK):
            rows = self.db.execute(f"SELECT cited FROM citations WHERE citing IN ({','.join('?' * len(part))})", part)
            together.update(cited for (cited,) in rows.fetchall() if cited not in mine)
        rows_of = self._rows_named(list(together))
        counts: Counter[int] = Counter()
        for identifier, count in together.items():
            for row_id in rows_of.get(identifier, ()):
                counts[row_id] += count
        return counts

    def citing(self, row_ids: Iterable[int]) -> Counter[int]:
        """Index rows that cite any of `row_ids`, with how many of them each cites."""
        if not self.has_links_table():
            return Counter()
        mine = self._identifiers_of(row_ids)
        counts: Counter[int] = Counter()
        for part in chunks(sorted(mine), ID_CHUNK):
            rows = self.db.execute(f"SELECT citing, cited FROM citations WHERE cited IN ({','.join('?' * len(part))})"
                                   f" ORDER BY citing DESC LIMIT {CITING_LIMIT}", part)
            counts.update(int(citing) for citing, _ in rows.fetchall())
        return counts

    def link_counts(self) -> tuple[int, int]:
        """(links, papers with links)."""
        if not self.has_links_table():
            return 0, 0
        # Two statements: `count(DISTINCT citing)` sorted every link (2.1 s for 6M links), the distinct
        # citing papers read in the primary key's order take 0.27 s and the links 0.05 s.
        links = self.db.execute("SELECT count(*) FROM citations").fetchone()[0]
        citing = self.db.execute("SELECT count(*) FROM (SELECT DISTINCT citing FROM citations) AS papers").fetchone()[0]
        return int(links), int(citing)

    def _citing_rows(self, identifiers: set[str]) -> set[int]:
        citing: set[int] = set()
        for part in chunks(sorted(identifiers), ID_CHUNK):
            rows = self.db.execute(f"SELECT DISTINCT citing FROM citations WHERE cited IN ({','.join('?' * len(part))})"
                                   f" ORDER BY citing DESC LIMIT {CITING_LIMIT}", part)
            citing.update(int(row_id) for (row_id,) in rows.fetchall())
        return citing

    def _identifiers_of(self, row_ids: Iterable[int]) -> set[str]:
        """Every identifier a link may name the papers of `row_ids` by."""
        found: set[str] = set()
        for part in chunks(sorted(set(row_ids)), ID_CHUNK):
            rows = self.db.execute(f"SELECT doi, arxiv FROM refs WHERE id IN ({','.join('?' * len(part))})", part)
            for doi, arxiv in rows.fetchall():
                found.update(identifier for identifier in (link_identifier(doi=doi), link_identifier(arxiv=arxiv)) if identifier)
        return found

    def _rows_named(self, identifiers: list[str]) -> dict[str, list[int]]:
        """The index rows each identifier names (a DOI or an arXiv id)."""
        found: dict[str, list[int]] = {}
        dois = [i for i in identifiers if not i.startswith("arxiv:")]
        arxivs = [i.removeprefix("arxiv:") for i in identifiers if i.startswith("arxiv:")]
        for column, values, prefix in (("doi", dois, ""), ("arxiv", arxivs, "arxiv:")):
            for part in chunks(values, ID_CHUNK):
                rows = self.db.execute(f"SELECT id, {column} FROM refs WHERE {column} IN ({','.join('?' * len(part))})", part)
                for row_id, value in rows.fetchall():
                    found.setdefault(prefix + value, []).append(int(row_id))
        return found
