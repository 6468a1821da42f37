"""What the author did with suggestions, remembered per workspace: cited (accepted) or dismissed.

The record is a small JSON file beside the index (`feedback/<workspace hash>.json`); it never
leaves the machine. Ranking reads it as one signal (server/features/ranking.py): a paper the
author dismissed sinks, one they cited from a suggestion rises a little. The `suggestionFeedback`
setting turns both reading and recording off. Writes go through a temporary file and a rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

MAX_KEYS = 5_000  # oldest entries dropped beyond this many per list


class FeedbackStore:
    """Accepted and dismissed keys of one workspace, loaded once and written on each change."""

    def __init__(self, folder: Path, roots: list[str]):
        name = hashlib.sha1("\n".join(sorted(roots)).encode()).hexdigest()[:16]
        self.path = folder / "feedback" / f"{name}.json"
        self._data: dict[str, dict[str, int]] | None = None

    def _load(self) -> dict[str, dict[str, int]]:
        if self._data is None:
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {}
            self._data = {kind: {str(k): int(v) for k, v in (raw.get(kind) or {}).items()
                                 if isinstance(v, int)} if isinstance(raw, dict) else {}
                          for kind in ("accepted", "dismissed")}
        return self._data

    def record(self, kind: str, key: str) -> None:
        """Count one `kind` ("accepted" or "dismissed") event for `key` and save."""
        data = self._load()
        other = "dismissed" if kind == "accepted" else "accepted"
        data[other].pop(key, None)  # the latest word counts
        counts = data[kind]
        counts[key] = counts.pop(key, 0) + 1
        while len(counts) > MAX_KEYS:
            counts.pop(next(iter(counts)))
        self._save(data)

    def signal(self, key: str) -> float:
        """-1 for a dismissed paper, up to +1 for one accepted several times, 0 otherwise."""
        data = self._load()
        if key in data["dismissed"]:
            return -1.0
        accepted = data["accepted"].get(key, 0)
        return accepted / (accepted + 1.0)

    def _save(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".feedback-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, ensure_ascii=False)
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise


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
