"""A draft's library, as the suggestions' ranking reads it: which index rows the draft's .bib
entries are (by DOI, title or key).

Building one maps every entry of the draft's .bib files to a row: seconds on a 5,000-entry
.bib. So libraries are built on the
`tables` lane (background.py) through a read-only connection of their own, cached per index
revision and set of .bib parses, and the draft's newest library answers while a newer one is
built (after a write to the index, a .bib changed or finished parsing).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from citewise.bib.model import Reference
from citewise.server.features.workspace import Workspace

if TYPE_CHECKING:
    from citewise.bib.index.search import Searcher
    from citewise.server.features.bibliographies import BibState

_LIBRARIES: OrderedDict[tuple, Library] = OrderedDict()
_LATEST_LIBRARY: dict[tuple[str, str], Library] = {}  # (index, draft uri) -> the draft's newest library
_LIBRARY_BUILDS: dict[tuple, Future] = {}
_LIBRARY_LOCK = threading.Lock()  # guards _LIBRARY_BUILDS
_CACHE_SIZE = 8


@dataclass
class Library:
    """The draft's .bib entries as index rows."""

    rows_by_key: dict[str, int]
    keys_by_row: dict[int, str]
    rows_in_bib: set[int]
    _bib_vectors: tuple[np.ndarray, np.ndarray] | None = None  # embedded .bib rows and their vectors

    def row_of_key(self, key: str) -> int | None:
        return self.rows_by_key.get(key)

    def key_of(self, row_id: int, ref: Reference) -> str:
        return self.keys_by_row.get(row_id, ref.key)

    def closest_in_bib(self, searcher: Searcher, query: np.ndarray, count: int) -> np.ndarray:
        """The `count` embedded .bib rows most similar to `query` (their vectors are read once)."""
        if self._bib_vectors is None:
            rows = sorted(self.rows_in_bib)
            vectors = searcher.vectors_of(rows)
            embedded = np.flatnonzero(vectors.any(axis=1))
            self._bib_vectors = (np.asarray(rows, dtype=np.int64)[embedded], vectors[embedded])
        rows, vectors = self._bib_vectors
        return _top(rows, vectors @ query, count)


def library_of(ws: Workspace, uri: str, wait: bool) -> Library:
    """The draft's library: the .bib files whose fields are parsed, at the index's revision.

    Built on the `tables` lane through a read-only connection of its own (mapping 5,000
    references to rows takes seconds, which would hold every
    completion queued behind them); the draft's library before answers meanwhile. A draft
    with none yet waits for it with `wait`, and gets an empty one without."""
    states = [state for state in ws.bib_states_for(uri) if state.ready]
    key = (str(ws.index_path), ws.index.revision(), tuple(state.version for state in states))
    library = _LIBRARIES.get(key)
    if library is not None:
        return library
    with _LIBRARY_LOCK:
        building = _LIBRARY_BUILDS.get(key)
        if building is None:
            building = _LIBRARY_BUILDS[key] = ws.lanes.submit("tables", _build_library, uri, key, states)
    earlier = _LATEST_LIBRARY.get((key[0], uri))
    if earlier is not None:
        return earlier
    return building.result() if wait else Library({}, {}, set())


def _build_library(uri: str, key: tuple, states: list[BibState]) -> Library:
    """On the `tables` lane: build, then publish with one assignment each (background.py)."""
    from citewise.bib.index.store import Index

    try:
        with Index.open(key[0], create=False, read_only=True) as index:
            refs: dict[str, Reference] = {}
            for state in states:
                for name, ref in state.references.items():
                    refs.setdefault(name, ref)
            rows = index.row_ids_for(list(refs.values()))
            by_key = {name: row for name, row in zip(refs, rows) if row is not None}
        library = Library(by_key, {row: name for name, row in by_key.items()}, set(by_key.values()))
        _remember(key, library)
        _LATEST_LIBRARY[(key[0], uri)] = library
        return library
    finally:
        with _LIBRARY_LOCK:
            _LIBRARY_BUILDS.pop(key, None)


def _remember(key: tuple, library: Library) -> None:
    _LIBRARIES[key] = library
    if len(_LIBRARIES) > _CACHE_SIZE:
        _LIBRARIES.popitem(last=False)


def _top(row_ids: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    if len(scores) <= count:
        return row_ids
    best = np.argpartition(-scores, count)[:count]
    return row_ids[best]
