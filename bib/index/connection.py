"""The database under an index: one connection, transactions, the meta table and the revision counter.

`IndexConnection` is the base of `Index` (store.py) and of the parts mixed into it
(paper_rows.py, embedding_rows.py, sqlite_queries.py): they all write through `transaction()`
and bump `revision()` when what searches see changes. SQLite failures become one line naming
the file and the way out (`as_citewise_error`); `PostgresIndex` replaces `_begin`/`_commit`.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, Self

from citewise.bib.errors import CitewiseError

QUICK_CHECK_SECONDS = 5.0  # `quick_check` of the 300,000-paper benchmark index: 16.7 s; stopped at 1 s, 1.01 s


class Rows(Protocol):
    """What a query returns: sqlite3's cursor, or psycopg's (postgres.py)."""

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """The connection an index talks through: `sqlite3.Connection`, or postgres.py's `_Connection`.

    The SQL the two share is written with `?` marks."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Rows: ...
    def executemany(self, sql: str, parameters: Any, /) -> object: ...
    def close(self) -> None: ...


_opened = itertools.count(1)


class IndexConnection:
    """An open connection to an index's database; `with index:` closes it.

    `serial` is unique per opened index and never reused (unlike `id()`, and unlike the
    revision, which two files can share): caches over an index key on it and the revision."""

    def __init__(self, db: Database, path: Path | str):
        self.db = db
        self.path = path
        self.serial = next(_opened)
        self._depth = 0

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def explained(self) -> Iterator[Self]:
        """Inside the block, an SQLite failure becomes one line: locked, read-only, or damaged
        (after `PRAGMA quick_check`) with the way out."""
        try:
            yield self
        except sqlite3.DatabaseError as error:
            raise as_citewise_error(self.path, error, self.db) from None

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
        """Start a write transaction; one writer at a time (others wait for the connection's timeout)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise as_citewise_error(self.path, error) from None

    def _commit(self) -> None:
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            self.db.execute("ROLLBACK")
            raise as_citewise_error(self.path, error) from None

    def get_meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def meta_starting(self, prefix: str) -> dict[str, str]:
        """Every meta entry whose name starts with `prefix` (the table holds settings and sync
        records, not papers, so reading it through is cheap at any index size)."""
        rows = self.db.execute("SELECT name, value FROM meta WHERE substr(name, 1, ?) = ?", (len(prefix), prefix))
        return {str(name): str(value) for name, value in rows}

    def set_meta(self, name: str, value: str) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def delete_meta(self, name: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM meta WHERE name = ?", (name,))

    def _bump_revision(self) -> None:
        self.db.execute(
            "INSERT INTO meta(name, value) VALUES ('revision', '1') ON CONFLICT(name)"
            " DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
        )

    def revision(self) -> int:
        """A counter that changes whenever references or embeddings change."""
        return int(self.get_meta("revision") or 0)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """`items` in slices of `size`: SQL `IN (...)` lists stay under the database's limit on parameters."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def as_citewise_error(path: Path | str, error: sqlite3.DatabaseError, db: Database | None = None) -> CitewiseError:
    """One line for an SQLite failure: locked, not a database, damaged (checked with `PRAGMA quick_check`)."""
    message = str(error)
    if "locked" in message or "busy" in message:
        return CitewiseError(f"{path}: index is locked by another process; try again when it has finished")
    if "not a database" in message:
        return CitewiseError(f"{path}: not a citewise index (not an SQLite database)")
    if "readonly" in message or "read-only" in message:
        return CitewiseError(f"{path}: index is read-only here; reading commands work, adding needs a writable file and folder")
    if "disk is full" in message:  # "database or disk is full": nothing to check the whole file for
        return CitewiseError(f"{path}: the disk is full; free some space and run the command again")
    if message.startswith(("no such table", "no such column")):
        return CitewiseError(f"{path}: {message}: an index written by another version of citewise, read where "
                             f"it cannot be brought up to date; a command that may write it does that")
    problem = message if "malformed" in message else quick_check(db)
    if problem:
        return CitewiseError(f"{path}: the index is damaged ({' '.join(problem.split())}); `citewise index rebuild` "
                             f"re-reads the files it was built from into a new index")
    return CitewiseError(f"{path}: {message}")


def quick_check(db: Database | None) -> str:
    """SQLite's first complaint about the file, or "" when it finds none (or cannot be asked, or
    the check outlasts QUICK_CHECK_SECONDS: it reads the whole file, minutes for a 3M-paper index)."""
    if not isinstance(db, sqlite3.Connection):
        return ""
    timer = threading.Timer(QUICK_CHECK_SECONDS, db.interrupt)  # the check runs as one step: no progress handler
    timer.start()
    try:
        first = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as error:
        return "" if "interrupted" in str(error) else str(error)
    finally:
        timer.cancel()
    return "" if first == "ok" else str(first)
