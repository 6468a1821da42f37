"""The field cache: parsed fields of each entry, keyed by a hash of the entry's raw text.

Two layers: a dict in this process (re-reads while editing) and a small SQLite file under the
user cache directory (later runs), `$CITEWISE_CACHE_DIR` overriding the location. Values are
JSON, never pickle. The cache is only a speed-up: when its file cannot be opened or written,
reading goes on without it, and it is written without waiting for the disk (a lost write
costs a re-parse, never a wrong result, since keys are hashes of content).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

_MEMORY_LIMIT = 100_000
_DISK_LIMIT = 256 * 1024 * 1024
"""Past this size the cache file is started afresh (it only ever saves parsing time)."""
_SQL_BATCH = 500


def cache_dir() -> Path:
    """`$CITEWISE_CACHE_DIR`, else the platform's user cache directory for citewise."""
    return Path(os.environ.get("CITEWISE_CACHE_DIR") or platformdirs.user_cache_dir("citewise"))


CacheKey = tuple[str, str]
"""(context, text): an entry's raw text and the `@string` declarations it is read with."""


def entry_hash(key: CacheKey) -> str:
    """The key's digest, as the SQLite file stores it."""
    context, text = key
    digest = hashlib.blake2b(digest_size=16)
    digest.update(context.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class FieldCache:
    """(context, text) -> JSON-ready value, in memory and in SQLite (by digest).

    Values are an entry's {"fields", "undefined", "error"} or a file's {"strings", "preambles", "errors"}.
    Memory is looked up by the text itself, so a re-read in the same process hashes nothing.
    """

    def __init__(self, directory: Path | None = None):
        self._directory = directory
        self._memory: dict[CacheKey, dict] = {}
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return (self._directory or cache_dir()) / "bibtex-fields.sqlite"

    def get_many(self, keys: list[CacheKey]) -> dict[CacheKey, dict]:
        memory = self._memory
        found = {key: memory[key] for key in keys if key in memory}
        if len(found) < len(keys):
            digests = {entry_hash(key): key for key in keys if key not in found}
            stored = {digests[digest]: value for digest, value in self._load(list(digests)).items()}
            self._remember(stored)
            found.update(stored)
        return found

    def put_many(self, values: dict[CacheKey, dict]) -> None:
        if not values:
            return
        self._remember(values)
        self._store({entry_hash(key): value for key, value in values.items()})

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()

    def _remember(self, values: dict[CacheKey, dict]) -> None:
        with self._lock:
            if len(self._memory) + len(values) > _MEMORY_LIMIT:
                self._memory.clear()
            self._memory.update(values)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=5)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("CREATE TABLE IF NOT EXISTS entry_fields (hash TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return connection

    def _load(self, hashes: list[str]) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        try:
            connection = self._connect()
            try:
                rows = []
                for start in range(0, len(hashes), _SQL_BATCH):
                    batch = hashes[start : start + _SQL_BATCH]
                    marks = ",".join("?" * len(batch))
                    rows += connection.execute(f"SELECT hash, value FROM entry_fields WHERE hash IN ({marks})", batch).fetchall()
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as error:
            log.debug("field cache unreadable at %s: %s", self.path, error)
            return {}
        return {h: json.loads(value) for h, value in rows}

    def _store(self, values: dict[str, dict]) -> None:
        rows = [(h, json.dumps(value, ensure_ascii=False)) for h, value in values.items()]
        self._start_afresh_when_too_large()
        try:
            connection = self._connect()
            try:
                with connection:
                    connection.executemany("INSERT OR REPLACE INTO entry_fields (hash, value) VALUES (?, ?)", rows)
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as error:
            log.debug("field cache not written at %s: %s", self.path, error)


    def _start_afresh_when_too_large(self) -> None:
        try:
            if self.path.stat().st_size > _DISK_LIMIT:
                for leftover in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                    leftover.unlink(missing_ok=True)
        except OSError:
            return


_shared: FieldCache | None = None


def shared_cache() -> FieldCache:
    """The process-wide cache (its location follows `$CITEWISE_CACHE_DIR` at each use)."""
    global _shared
    if _shared is None:
        _shared = FieldCache()
    return _shared
