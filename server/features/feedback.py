"""What the author did with suggestions, remembered per workspace: cited (accepted), dismissed, ignored.

The record is a small JSON file beside the index (`feedback/<workspace hash>.json`); it never
leaves the machine. Ranking reads it as one signal (server/features/ranking.py): a paper the
author dismissed is not suggested again, one they cited from a suggestion rises a little, and
one they ignored sinks a little. "Ignored" means shown above the paper the author then cited
from the same list: the lists last shown are kept in memory (never written), and accepting a
paper counts one "ignored" for each paper shown above it. The `suggestionFeedback` setting turns
reading and recording off. Writes go through a temporary file and a rename (`write_atomically`).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from pathlib import Path

from citewise.bib.files import write_atomically

MAX_KEYS = 5_000  # oldest entries dropped beyond this many per list
KINDS = ("accepted", "dismissed", "ignored")
SHOWN_LISTS = 16  # suggestion lists remembered (in memory) to tell which papers were passed over
IGNORED_PENALTY = 0.5  # the most an ignored paper's signal goes down


class FeedbackStore:
    """Accepted, dismissed and ignored keys of one workspace, loaded once and written on each change."""

    def __init__(self, folder: Path, roots: list[str]):
        name = hashlib.sha1("\n".join(sorted(roots)).encode()).hexdigest()[:16]
        self.path = folder / "feedback" / f"{name}.json"
        self._data: dict[str, dict[str, int]] | None = None
        self._shown: deque[list[str]] = deque(maxlen=SHOWN_LISTS)

    def _load(self) -> dict[str, dict[str, int]]:
        if self._data is None:
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {}
            self._data = {kind: {str(k): int(v) for k, v in (raw.get(kind) or {}).items()
                                 if isinstance(v, int)} if isinstance(raw, dict) else {}
                          for kind in KINDS}
        return self._data

    def shown(self, keys: list[str]) -> None:
        """Remember (in memory) a suggestion list as shown, best first."""
        if keys and (not self._shown or self._shown[-1] != keys):
            self._shown.append(list(keys))

    def record(self, kind: str, key: str) -> None:
        """Count one `kind` ("accepted" or "dismissed") event for `key` and save; accepting also
        counts the papers shown above `key` in the latest list holding it as ignored."""
        data = self._load()
        other = "dismissed" if kind == "accepted" else "accepted"
        data[other].pop(key, None)  # the latest word counts
        _count(data[kind], key)
        if kind == "accepted":
            data["ignored"].pop(key, None)
            shown = next((keys for keys in reversed(self._shown) if key in keys), [])
            for passed_over in shown[:shown.index(key)] if shown else []:
                _count(data["ignored"], passed_over)
        self._save(data)

    def signal(self, key: str) -> float:
        """-1 for a dismissed paper; up to +1 for one accepted several times, down to -0.5 for
        one passed over several times; 0 otherwise."""
        data = self._load()
        if key in data["dismissed"]:
            return -1.0
        accepted, ignored = data["accepted"].get(key, 0), data["ignored"].get(key, 0)
        return accepted / (accepted + 1.0) - IGNORED_PENALTY * ignored / (ignored + 2.0)

    def _save(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _count(counts: dict[str, int], key: str) -> None:
    """One more for `key`, moved to the end (the newest); the oldest dropped beyond MAX_KEYS."""
    counts[key] = counts.pop(key, 0) + 1
    while len(counts) > MAX_KEYS:
        counts.pop(next(iter(counts)))


_STORES: dict[tuple[str, tuple[str, ...]], FeedbackStore] = {}


def feedback_for(ws) -> FeedbackStore | None:
    """The feedback store of a workspace (one per index folder and workspace roots); None when
    the `suggestionFeedback` setting is off."""
    if not ws.settings.suggestion_feedback:
        return None
    folder = ws.index_path.expanduser().resolve().parent
    key = (str(folder), tuple(sorted(ws.roots)))
    if key not in _STORES:
        _STORES[key] = FeedbackStore(folder, list(key[1]))
    return _STORES[key]
