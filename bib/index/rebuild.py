"""`citewise index rebuild`: a new index from the sources an old (perhaps damaged) one was read from.

The sources are the files `citewise index stats` lists. They are read from the old file in
id order, stepping over damaged stretches of the table, so damaged pages cost only the rows on
them (and a few dozen probes each, however large the garbage ids on them). The new index is built beside
the old one and renamed into place; the old file is kept as `<name>.damaged` (or
`<name>.old` when it was sound), with its HNSW file (ann.py), so nothing is lost. Sources
that are not files on this machine (a Zotero library synced over the network) are listed for
the user to sync again.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from citewise.bib.errors import CitewiseError
from citewise.bib.index.ann import move_graph
from citewise.bib.index.connection import quick_check
from citewise.bib.index.paper_rows import IngestSummary
from citewise.bib.index.store import Index
from citewise.bib.readers import read_path

MAX_ROW_ID = 2**63 - 1  # SQLite's largest rowid


@dataclass
class RebuildResult:
    """What a rebuild read, added and could not re-read, and where the old file went."""

    sources: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    summary: IngestSummary = field(default_factory=IngestSummary)
    kept_as: str = ""
    model: str | None = None


def recorded_sources(path: Path) -> tuple[list[str], str | None, bool]:
    """(sources, model name, damaged) of an index file, reading what can still be read."""
    db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)  # as Index opens one read-only
    try:
        damaged = bool(quick_check(db))
        sources, damaged_rows = _readable_sources(db)
        damaged = damaged or damaged_rows
        try:
            found = db.execute("SELECT value FROM meta WHERE name = 'model'").fetchone()
        except sqlite3.DatabaseError:
            found, damaged = None, True
        return sources, found[0] if found else None, damaged
    except sqlite3.DatabaseError as error:
        raise CitewiseError(f"{path}: cannot read even the list of sources ({error}); add your files again "
                            f"into a new index with `citewise index add`") from None
    finally:
        db.close()


def _readable_sources(db: sqlite3.Connection) -> tuple[list[str], bool]:
    """(every source named by a readable row, in first-seen order, then those only the papers per
    source name (schema 9 on: a few pages, which may have outlived the rows); whether some rows
    were not readable)."""
    sources: dict[str, None] = {}
    damaged, start = False, 1
    while start <= MAX_ROW_ID:
        try:
            for row_id, text in db.execute("SELECT id, sources FROM refs WHERE id >= ? ORDER BY id", (start,)):
                start = row_id + 1
                for source in (text.split("\n") if isinstance(text, str) else []):
                    if source:
                        sources.setdefault(source, None)
            break
        except sqlite3.DatabaseError:
            damaged = True
            start = _next_readable(db, start)
    try:
        for (source,) in db.execute("SELECT source FROM source_counts ORDER BY source"):
            if source:
                sources.setdefault(source, None)
    except sqlite3.DatabaseError:  # an older file without the table, or its pages damaged
        pass
    return list(sources), damaged


def _next_readable(db: sqlite3.Connection, failed: int) -> int:
    """The first id past `failed` from which the table reads again: ids ever further ahead, then
    back by halves towards the last one that failed (MAX_ROW_ID + 1 when none reads)."""
    step = 1
    while True:
        if failed + step > MAX_ROW_ID:
            return MAX_ROW_ID + 1
        if _reads_from(db, failed + step):
            break
        step *= 2
    low, high = failed + step // 2, failed + step  # `low` failed (or is `failed`), `high` reads
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _reads_from(db, middle) else (middle, high)
    return high


def _reads_from(db: sqlite3.Connection, start: int) -> bool:
    try:
        db.execute("SELECT id, sources FROM refs WHERE id >= ? ORDER BY id LIMIT 1", (start,)).fetchone()
        return True
    except sqlite3.DatabaseError:
        return False


def rebuild_index(path: Path) -> RebuildResult:
    """Read every recorded source into a new index at `path`; keep the old file beside it."""
    if not path.is_file():
        raise CitewiseError(f"{path}: no index here; build one with `citewise index add`")
    sources, model, damaged = recorded_sources(path)
    result = RebuildResult(model=model)
    fresh = path.with_name(path.name + ".rebuilding")
    for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
        leftover.unlink(missing_ok=True)
    with Index.open(fresh) as index:
        for source in sources:
            if not os.path.isfile(source):
                result.missing.append(source)
                continue
            read = read_path(source)
            result.sources.append(source)
            result.summary.errors.extend(read.errors)
            result.summary.absorb(index.add_references(read.references))
    kept = path.with_name(path.name + (".damaged" if damaged else ".old"))
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            os.replace(old, f"{kept}{suffix}")
    move_graph(path, kept)  # its ids are the old file's
    os.replace(fresh, path)
    result.kept_as = str(kept)
    return result
