"""The registry answer cache: one SQLite file, keyed by the request URL, with a time limit per outcome.

A registry answer depends on nothing but the request, so the key is the URL without the
`mailto` contact (which does not change the answer). Outcomes keep for different times:

- a record found (HTTP 200) for 7 days: long enough that reopening a draft asks nothing again,
  short enough that a retraction published this week shows up next week;
- "no such work" (HTTP 404, an empty search) for 1 day: a DOI registered this morning is found
  tomorrow;
- failures (timeouts, 5xx, 429, malformed answers) are never stored.

The file is `registry.sqlite` in citewise's cache directory (`$CITEWISE_CACHE_DIR`, else the
platform's user cache directory). The cache only saves requests: when the file cannot be opened
or written, lookups go to the network as if it were empty.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TIME_LIMITS = {"found": 7 * 24 * 3600.0, "missing": 24 * 3600.0}
"""Seconds an answer stays fresh, per outcome."""


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    body: str
    outcome: str


class ResponseCache:
    """Thread-safe; one connection guarded by a lock (lookups are tiny)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=5)
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS answers (url TEXT PRIMARY KEY, status INTEGER, body TEXT, "
                    "outcome TEXT, stored_at REAL)"
                )
                self._db.commit()
            except sqlite3.Error as error:
                log.warning("registry cache %s unusable (%s); going without it", path, error)
                self._db = None

    def get(self, url: str, now: float | None = None) -> CachedAnswer | None:
        """The stored answer for `url` while it is fresh, else None."""
        if self._db is None:
            return None
        now = time.time() if now is None else now
        with self._lock:
            try:
                row = self._db.execute("SELECT status, body, outcome, stored_at FROM answers WHERE url = ?", (url,)).fetchone()
            except sqlite3.Error:
                return None
        if row is None or now - row[3] > TIME_LIMITS.get(row[2], 0):
            return None
        return CachedAnswer(row[0], row[1], row[2])

    def put(self, url: str, status: int, body: str, outcome: str) -> None:
        if self._db is None or outcome not in TIME_LIMITS:
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO answers (url, status, body, outcome, stored_at) VALUES (?, ?, ?, ?, ?)",
                    (url, status, body, outcome, time.time()),
                )
                self._db.commit()
            except sqlite3.Error as error:
                log.warning("registry cache write failed: %s", error)

    def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()
                self._db = None
