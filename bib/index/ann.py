"""Approximate nearest neighbours for a large SQLite index: a usearch HNSW file beside it.

Past `ANN_THRESHOLD` embedded papers, exact dense search (every vector in memory, one
matrix product) costs too much memory in each process; the index then keeps an HNSW graph
of its vectors (int8, cosine) in `<index>.usearch`. Readers memory-map the file, so a
language server's own memory does not grow with the index. The graph only chooses candidates:
each is scored from its float16 vector in SQLite, as exact search scores it. (A file written
before holds float16 vectors; it is read and updated the same way.)

SQLite stays the truth. Triggers (store.py, schema 5) list in `ann_changes` every row whose
vector was stored, cleared or deleted; `sync` folds those changes into the file (saved to a
temporary file and renamed over it) and then forgets them, in that order. (A smaller index has
no file: there `sync` forgets all but the last CHANGES_KEPT changes, which vector_matrix.py
reads.) A crash between an SQLite commit and the file's update therefore leaves the change
listed, and the next `sync` (every FOLD_ROWS rows of a command storing vectors and at its end,
or a writer opening the index) applies it: re-applying a change is harmless. Until then
`nearest` leaves the listed rows' entries in the graph out (they may be stale) and scores the
rows themselves exactly, so answers are never stale.
A reader keeps those rows' vectors in memory (`ListedRows`), reading each change once, and scores
at most LISTED_SCORED of them, the first listed: past that, a large update under way (at 3M papers
it takes most of an hour) leaves its other rows to the word signals until the graph holds them.
A search limited to some rows (years, a source) asks the graph for enough candidates that about
FILTER_MARGIN times the rows wanted are allowed, or, when that would cost more, scores the allowed
rows' stored vectors, a block at a time.

A writer opening the index (`opening`; the language server is one) only repairs: it folds in at
most REPAIR_ROWS listed changes, and only when no other process is writing the graph and no build
is under way. It never waits for the lock and never starts a build, so a language server opened
while `index add` spends an hour on the graph answers at once. Builds, large updates and their
continuation belong to the commands that store vectors (they sync when done) and to `citewise
index graph`.

The first build reads every vector (about 50 CPU minutes at 1M papers), and a large update
(the 2M papers that take a 1M index to 3M) as long; both go in row order and save the graph to
`<index>.usearch.building` every `CHECKPOINT_ROWS` rows, beside `<index>.usearch.started` (the
last change their snapshot of SQLite includes, and the last row done). An interrupted one
continues from there (the next sync that is not `opening`): it folds in again the rows it had
done that changed since, then the rest.

A large index whose file was lost or damaged searches exactly, holding every vector in memory,
until the graph is built again: by the next command storing vectors, or at once by `citewise
index graph`, which `index stats` names (`graph_state`). The same command with `--rebuild`
builds a graph written by an older citewise again at the current settings.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numkong
import numpy as np

from citewise.bib.index.connection import Database

ANN_THRESHOLD = 200_000
# A denser graph than usearch's default (16 and 128, citewise's until 2026-12-04): on the 1M
# benchmark index (887,552 vectors derived from the int8 encoder's real ones, 100 real sentences,
# rescored) recall@10 at expansion 768 / 1,024 / 1,536 is 0.988 / 0.991 / 0.999 against 0.955 /
# 0.968 / 0.974, for 11.0 / 14.8 / 21.2 ms of CPU per search (median), a 12 % larger file and
# about three times the build (27 min of wall time on two cores instead of 8). A graph keeps the
# connectivity it was built with: older files are searched and extended as they are.
CONNECTIVITY = 24
EXPANSION_ADD = 256
# Recall@10 against exact search for 300 real sentences (bench_scale.py): on 10,000 real
# all-MiniLM vectors 0.944 at expansion_search 128, 0.988 at 384; on 100,000 derived from them
# (the graph serves indexes past ANN_THRESHOLD, and recall falls as it grows) 0.972 at 384,
# 0.983 at 512, 0.993 at 768; on the 1M benchmark index (887,552 derived vectors, 100 sentences)
# 0.963 at 768, 0.979 at 1,024, 0.985 at 1,536, 0.986 at 2,048, for 7.4, 9.8, 14.1 and 19.2 ms
# of CPU per search (median); with the int8 graph and RESCORED candidates 0.938, 0.958, 0.971 and
# 0.982 at 512, 768, 1,024 and 1,536 (0.982 at 1,536 with 400 candidates too: what is missed, the
# graph's walk does not reach). Those were the sparser graph's figures (connectivity 16). The
# denser one keeps 1,536: 0.999 at 1M leaves room for the fall as the index grows (the sparser
# graph went from 0.982 at 1M to 0.906 at 3M at this expansion).
EXPANSION_SEARCH = 1536
# The graph's vectors are int8 (half the file and the pages a search touches, against float16) and
# its distances only choose candidates: the best RESCORED are scored again from the float16
# vectors in SQLite. Recall@10 against exact search, 300 real sentences (bench_graph_vectors.py),
# at expansion 512 / 1,024: 10,000 real vectors 0.992 / 0.997 (float16 in the graph, its own
# order: 0.994 / 0.998; int8 in its own order: 0.929 / 0.932); 100,000 derived ones 0.981 / 0.994
# (float16: 0.981 / 0.995), the file 53 MB instead of 92, built in 85 s of CPU instead of 127.
# One bit per dimension, rescored alike, gave 0.55.
GRAPH_DTYPE = "i8"
RESCORED = 100
BUILD_CHUNK = 50_000
CHECKPOINT_ROWS = 200_000
# Nodes inserted concurrently into a young graph are sometimes left unreachable (usearch 2.26,
# measured: 34 of 8,000 papers on 400-node graphs were not their own nearest neighbour when
# added on two threads, none when added on one). The first SERIAL_NODES go in one at a time;
# past them concurrent insertion costs nothing measurable in recall.
SERIAL_NODES = 10_000
# A writer opening the index folds in at most this many listed changes (a crash leaves one batch
# of vectors behind; a killed embedding run may leave millions, a command's work).
REPAIR_ROWS = 10_000
# Commands storing vectors fold them into the graph every FOLD_ROWS rows, not only when done: each
# fold also loads and saves the file (0.4–0.6 s for a 250,000-paper graph of 149 MB; about 5 s at
# 3M papers by size, against about 75 s to add 50,000 nodes there), and keeps the rows every search
# scores exactly (below) few. Searches score at most LISTED_SCORED listed rows exactly (77 MB of
# float16 vectors in each reader; bench/bench_listed_changes.py).
FOLD_ROWS = 50_000
LISTED_SCORED = 100_000
SCORED_BLOCK = 16_384  # rows scored by one NumKong call, holding the GIL under a millisecond
# A search limited to some rows on the 300,000-paper benchmark index scored every allowed row's
# vector, read into float32 one by one: 1.5 s and 220 MB for the papers since 2010 (125,319 of
# 266,378), seconds and gigabytes at 3M. Now the graph's candidates are filtered, or the allowed
# rows scored exactly, whichever costs less: there an allowed row read and scored took 3.2 µs and
# a graph candidate about 1.5 times that (3,000 / 7,000 allowed rows: 9.8 / 22.2 ms median; the
# graph's 2,664 / 4,440 / 6,660 candidates: 18.4 / 28.7 / 38.4 ms). At 3M and 100 rows wanted,
# either way then costs at most about 0.1 s (projected from these costs).
FILTER_MARGIN = 2
EXACT_ROWS_PER_CANDIDATE = 1.5
ANN_SUFFIX = ".usearch"
# Below ANN_THRESHOLD, with no graph, `sync` keeps the last CHANGES_KEPT changes listed (and notes
# in meta KEPT_THROUGH the last it saw), so a reader's vector matrix catches up by those rows.
CHANGES_KEPT = 20_000
KEPT_THROUGH = "ann_kept_through"


def ann_path(index_path: Path | str) -> Path:
    return Path(str(index_path) + ANN_SUFFIX)


def graph_class() -> Any:
    """usearch's index class. onnxruntime is loaded before it: loaded after usearch (2.26), its C++
    static initializers crash the process (a segmentation fault in libstdc++), and a process that
    opened a graph may load bert.py's encoder next (`index add` embedding into a large index)."""
    import onnxruntime  # noqa: F401  (first; see above)
    from usearch.index import Index

    return Index


def new_graph(dimension: int) -> Any:
    return graph_class()(ndim=dimension, metric="cos", dtype=GRAPH_DTYPE, connectivity=CONNECTIVITY,
                 expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


def open_graph(path: Path, view: bool) -> Any:
    """The graph in a file: memory-mapped (`view`) or loaded to be changed. The file keeps its
    connectivity but not the expansions, which would fall back to usearch's defaults (64 when
    searching: recall@10 0.89 on real vectors instead of the 0.98 target)."""
    return graph_class().restore(str(path), view=view, expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


class AnnReader:
    """The memory-mapped graph of one index file, mapped again when a writer replaced it."""

    def __init__(self, index_path: Path | str):
        self.path = ann_path(index_path)
        self._lock = threading.Lock()
        self._graph: Any = None
        self._identity: tuple[int, int] | None = None
        self._listed_lock = threading.Lock()
        self._listed = ListedRows()

    def available(self, dimension: int) -> bool:
        """Whether there is a graph to search for vectors of `dimension`: a damaged file is not
        one, nor a graph of another model's vectors (`index reembed --model` under way). Exact
        search serves until it is built again; `index stats` names a damaged file."""
        if not self.path.is_file():
            return False
        try:
            return int(self._mapped().ndim) == dimension
        except ValueError:  # usearch: "Not a dense USearch index!", "End of file reached!"
            return False

    def nearest(self, db: Database, query: np.ndarray, limit: int,
                allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """The `limit` rows most similar to `query` (unit length), among `allowed` if given:
        candidates from the graph (at least RESCORED of them) that no change lists, scored exactly
        by their vectors in SQLite, as exact search scores them (vector_matrix.py), beside the
        listed rows (`ListedRows`). A search limited to few rows, against the candidates it would
        ask the graph for (EXACT_ROWS_PER_CANDIDATE), scores those exactly instead; a broader limit
        may return fewer than `limit` rows when the allowed ones lie far from the query."""
        query16 = np.asarray(query, dtype=np.float16).reshape(1, -1)  # scored as exact search scores (vector_matrix.py)
        graph = self._mapped()
        wanted = max(limit, RESCORED)
        if allowed is not None:
            wanted = -(-FILTER_MARGIN * wanted * len(graph) // max(len(allowed), 1))
            if len(allowed) <= EXACT_ROWS_PER_CANDIDATE * wanted:
                return nearest_among(db, query16, limit, sorted(allowed))
        with self._listed_lock:
            listing = self._listed.refresh(db, len(query))
            listed = self._listed.nearest(query16, limit, allowed)
        scored: list[tuple[int, float]] = []
        if len(graph):
            matches = graph.search(query.astype(np.float32), min(wanted + min(listing, wanted), len(graph)))
            keys = [key for key in matches.keys.tolist() if allowed is None or key in allowed]
            stale = _listed_among(db, keys) if listing else set()
            ids, vectors = stored_rows(db, [key for key in keys if key not in stale], len(query))
            scored = list(zip(ids.tolist(), float16_products(query16, vectors).tolist()))
        return sorted(scored + listed, key=lambda item: -item[1])[:limit]

    def _mapped(self) -> Any:
        with self._lock:
            info = os.stat(self.path)
            identity = (info.st_ino, info.st_mtime_ns)
            if self._graph is None or identity != self._identity:
                self._graph = open_graph(self.path, view=True)
                self._identity = identity
            return self._graph


class ListedRows:
    """The vectors of the rows `ann_changes` lists, as one reader last read them: of the first
    LISTED_SCORED rows listed, each read when listed, and again when listed again. A sync that
    forgot changes (the list's first change moved; changes are numbered without reuse, schema 12)
    has the list read again. Not thread-safe: its reader holds a lock around it."""

    def __init__(self) -> None:
        self.first: int | None = None  # the first change listed when the list was last read
        self.position = 0  # the last change read
        self.slots: dict[int, int] = {}  # row id -> its slot in `ids` and `vectors`
        self.ids = np.empty(0, dtype=np.int64)  # -1 in the slot of a row whose vector was cleared
        self.vectors = np.empty((0, 0), dtype=np.float16)  # float16, as stored

    def refresh(self, db: Database, dimension: int) -> int:
        """Read the changes listed since the last refresh; how many changes are listed (at most)."""
        first, last = list_ends(db)
        if first != self.first or (last or 0) < self.position or self.vectors.shape[1] != dimension:
            self.first, self.position, self.slots = first, 0, {}
            self.ids, self.vectors = np.empty(0, dtype=np.int64), np.empty((0, dimension), dtype=np.float16)
        if first is None or last is None:  # an empty list (or emptied between the two reads)
            return 0
        if last > self.position:
            changes = db.execute("SELECT id FROM ann_changes WHERE seq > ? AND seq <= ?", (self.position, last))
            while chunk := changes.fetchmany(BUILD_CHUNK):
                wanted = list({row_id for (row_id,) in chunk if row_id in self.slots or len(self.slots) < LISTED_SCORED})
                self._store(wanted, dict(stored_vectors(db, wanted, dimension)))
            self.position = last
        return int(last - first + 1)

    def _store(self, row_ids: list[int], vectors: dict[int, np.ndarray]) -> None:
        new = [row_id for row_id in row_ids if row_id not in self.slots][:LISTED_SCORED - len(self.slots)]
        if len(self.slots) + len(new) > len(self.ids):  # grow by doubling: one copy per doubling
            size = max(1024, 2 * (len(self.slots) + len(new)))
            self.ids = np.concatenate([self.ids, np.full(size - len(self.ids), -1, dtype=np.int64)])
            self.vectors = np.concatenate([self.vectors, np.zeros((size - len(self.vectors), self.vectors.shape[1]),
                                                                  dtype=np.float16)])
        for row_id in new:
            self.slots[row_id] = len(self.slots)
        for row_id in row_ids:
            slot = self.slots.get(row_id)
            if slot is not None:
                vector = vectors.get(row_id)
                self.ids[slot] = -1 if vector is None else row_id
                self.vectors[slot] = 0 if vector is None else vector

    def nearest(self, query16: np.ndarray, limit: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """The `limit` listed rows most similar to `query16` (one float16 row), among `allowed` if
        given, scored exactly."""
        used = len(self.slots)
        if not used:
            return []
        scores = np.concatenate([float16_products(query16, self.vectors[start:min(start + SCORED_BLOCK, used)])
                                 for start in range(0, used, SCORED_BLOCK)])
        scores[self.ids[:used] < 0] = -np.inf
        if allowed is not None:
            scores[~np.isin(self.ids[:used], np.fromiter(allowed, dtype=np.int64, count=len(allowed)))] = -np.inf
        best = np.argpartition(-scores, min(limit, used) - 1)[:limit]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(self.ids[slot]), float(scores[slot])) for slot in best.tolist() if self.ids[slot] >= 0]


def list_ends(db: Database) -> tuple[int | None, int | None]:
    """The first and last change listed: a seek each (one statement asking for both scans the
    list), and one for an empty list, the usual state."""
    last = db.execute("SELECT max(seq) FROM ann_changes").fetchone()[0]
    if last is None:
        return None, None
    return db.execute("SELECT min(seq) FROM ann_changes").fetchone()[0], last


def _listed_among(db: Database, row_ids: list[int]) -> set[int]:
    """Those of `row_ids` that `ann_changes` lists (looked up by its index on ids, schema 12)."""
    if not row_ids:
        return set()
    marks = ",".join("?" * len(row_ids))
    return {row[0] for row in db.execute(f"SELECT DISTINCT id FROM ann_changes WHERE id IN ({marks})", row_ids)}


def sync(db: Database, index_path: Path | str, dimension: int | None, rebuild: bool = False,
         on_progress: Callable[[int, int], None] | None = None, opening: bool = False, wait: bool = True) -> None:
    """Bring the graph file up to date with SQLite (see the module docstring); the caller holds no
    transaction. Below the threshold, with no file, the change list is simply emptied. `rebuild`
    builds a new graph of every stored vector at the current settings, also when nothing changed
    (`citewise index graph`); the file it replaces serves searches until then. `on_progress` hears
    (rows done, rows to do). `opening` only repairs (module docstring). The graph is written by one
    process at a time (a lock file beside it), so no writer renames an older graph over a newer one;
    without `wait` (and when `opening`) a sync finding another process writing it leaves the changes
    listed: searches score them exactly, and the next sync folds them in."""
    path = ann_path(index_path)
    last = db.execute("SELECT max(seq) FROM ann_changes").fetchone()[0]
    if last is None and not rebuild:  # nothing changed since the file was written (or nothing was ever embedded)
        return
    if not path.exists() and not rebuild:
        seen = db.execute("SELECT value FROM meta WHERE name = ?", (KEPT_THROUGH,)).fetchone()
        if seen is not None and last <= int(seen[0]):  # the changes listed were kept on purpose, below
            return
        if not dimension or _embedded(db) < ANN_THRESHOLD:
            # No graph: the last CHANGES_KEPT changes stay listed for the matrices of exact search
            # (vector_matrix.py), which read only the rows changed since their own position.
            db.execute("DELETE FROM ann_changes WHERE seq <= ?", (last - CHANGES_KEPT,))
            db.execute("INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                       (KEPT_THROUGH, str(last)))
            for leftover in _build_files(path):  # of a build begun when the index was larger
                leftover.unlink(missing_ok=True)
            return
    if opening and (not path.exists() or any(file.exists() for file in _build_files(path))
                    or _changed_rows(db) > REPAIR_ROWS):
        return  # a build, one under way, or a large update: a command's work
    assert dimension, "an index with vectors records their dimension"
    with open(str(path) + ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (fcntl.LOCK_NB if opening or not wait else 0))
        except BlockingIOError:  # another process writes the graph; it, or the next sync, folds these in
            return
        _update(db, path, dimension, rebuild, on_progress or (lambda done, total: None), opening)


def graph_state(db: Database, index_path: Path | str, embedded: int) -> dict[str, Any] | None:
    """The graph as `index stats` reports it; None for an index that needs none (fewer than
    ANN_THRESHOLD papers with vectors, and no file): whether its file is there, the papers in
    it and their vectors' dimensions (read from the file's header; None when the file is
    damaged), its size, and the changed papers waiting to reach it."""
    path = ann_path(index_path)
    present = path.is_file()
    if not present and embedded < ANN_THRESHOLD:
        return None
    if not present:  # a build holds every vector, whatever changed
        return {"file": str(path), "present": False, "papers": 0, "dimensions": None, "size_bytes": 0,
                "changes_waiting": 0}
    try:
        header = graph_class().metadata(str(path))
        papers: int | None = int(header["count_present"])
        dimensions: int | None = int(header["dimensions"])
    except (ValueError, TypeError):  # usearch: "Not a dense USearch index!", "End of file reached!"
        papers = dimensions = None  # damaged: `index stats` says so
    return {"file": str(path), "present": True, "papers": papers, "dimensions": dimensions,
            "size_bytes": path.stat().st_size,
            "changes_waiting": _changed_rows(db)}


def graph_connectivity(index_path: Path | str) -> int:
    """The connectivity the index's graph was built with (CONNECTIVITY, or an older citewise's)."""
    return int(open_graph(ann_path(index_path), view=True).connectivity)


def _update(db: Database, path: Path, dimension: int, rebuild: bool, on_progress: Callable[[int, int], None],
            opening: bool) -> None:
    """Fold the listed changes into the graph (every stored vector for a rebuild, when the file is
    missing or damaged, or when the changes are at least as many as the vectors, unless `opening`),
    in row order, checkpointed (see the module docstring)."""
    last = db.execute("SELECT max(seq) FROM ann_changes").fetchone()[0]
    if last is None and not rebuild:  # another process applied the changes while this one waited
        return
    building, started = _build_files(path)
    progress = json.loads(started.read_bytes()) if building.exists() and started.exists() else None  # JSON: UTF-8 by its own rule
    if progress is not None and rebuild and not progress.get("whole", True):
        progress = None  # an interrupted update gives way to the rebuild, which holds its rows too
    graph: Any = open_graph(building, view=False) if progress is not None else None
    if graph is not None and int(graph.ndim) != dimension:  # begun before the model changed
        progress = graph = None
    if progress is not None:  # an interrupted update or build: continue it
        progress.setdefault("whole", True)  # a first build begun before updates were checkpointed too
        if progress["whole"] and len(graph):  # its rows went in in order: the last is the largest
            progress["through"] = max(progress.get("through", 0), int(np.asarray(graph.keys).max()))
        done = _listed(db, "seq > ? AND id <= ?", (progress["seq"], progress["through"]))
        _replace(graph, done, *_vectors(db, done, dimension))  # rows it had done that changed since
    else:
        # As many changes as vectors (a reembed cleared them all): cheaper built again from the
        # vectors there are, and the old file is not even read.
        whole = rebuild or _changed_rows(db) >= _embedded(db)
        graph = None if whole else _readable_graph(path, dimension)
        if graph is None and opening:  # damaged, or a build: a command's work
            return
        progress = {"seq": last or 0, "through": 0, "whole": graph is None}
        graph = graph if graph is not None else new_graph(dimension)
        building.unlink(missing_ok=True)
        _write_atomically(started, json.dumps(progress).encode())
    if progress["whole"]:  # the graph holds the rows done; every vector goes in
        done_rows, total = len(graph), _embedded(db)
    else:
        done_rows, total = 0, _changed_rows(db, "id > ? AND seq <= ?", (progress["through"], last))
    unsaved = 0
    for ids, keys, vectors in _rows_after(db, progress, last, dimension):
        _replace(graph, ids, keys, vectors)
        unsaved += len(ids)
        done_rows += len(ids)
        on_progress(done_rows, total)
        if unsaved >= CHECKPOINT_ROWS:
            _save(graph, building)
            _write_atomically(started, json.dumps({**progress, "through": ids[-1]}).encode())
            unsaved = 0
    _save(graph, path)
    if last is not None:
        db.execute("DELETE FROM ann_changes WHERE seq <= ?", (last,))
    db.execute("DELETE FROM meta WHERE name = ?", (KEPT_THROUGH,))
    building.unlink(missing_ok=True)
    started.unlink(missing_ok=True)


def _readable_graph(path: Path, dimension: int) -> Any:
    """The graph in the file, loaded to be changed; None when there is no file, it is damaged, or
    it holds vectors of another dimension (the index's model changed): then it is built again from
    every vector."""
    if not path.exists():
        return None
    try:
        graph = open_graph(path, view=False)
    except ValueError:  # usearch: "Not a dense USearch index!", "End of file reached!"
        return None
    return graph if int(graph.ndim) == dimension else None


def _rows_after(db: Database, progress: dict[str, Any], last: int, dimension: int) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """(row ids, keys, vectors) to fold in, a chunk at a time in row order past `progress["through"]`:
    every stored vector for a first build, else the rows listed up to change `last`."""
    if progress["whole"]:
        cursor = db.execute("SELECT id, embedding FROM refs WHERE embedding IS NOT NULL AND id > ? ORDER BY id",
                            (progress["through"],))
        while rows := cursor.fetchmany(BUILD_CHUNK):
            ids = [row_id for row_id, _ in rows]
            vectors = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float16).reshape(len(ids), dimension)
            yield ids, np.asarray(ids, dtype=np.uint64), vectors.astype(np.float32)
    else:
        listed = _listed(db, "id > ? AND seq <= ?", (progress["through"], last))
        for start in range(0, len(listed), BUILD_CHUNK):
            ids = listed[start:start + BUILD_CHUNK]
            yield ids, *_vectors(db, ids, dimension)


def _listed(db: Database, changes: str, parameters: tuple[Any, ...]) -> list[int]:
    """The rows listed in ann_changes under a condition (`changes`), in row order."""
    return [row[0] for row in db.execute(f"SELECT DISTINCT id FROM ann_changes WHERE {changes} ORDER BY id", parameters)]


def _changed_rows(db: Database, changes: str = "1", parameters: tuple[Any, ...] = ()) -> int:
    """How many rows ann_changes lists (under a condition, `changes`), without reading them out."""
    return int(db.execute(f"SELECT count(DISTINCT id) FROM ann_changes WHERE {changes}", parameters).fetchone()[0])


def _vectors(db: Database, row_ids: list[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, float32 vectors) of those rows that hold a vector now."""
    ids, vectors = stored_rows(db, row_ids, dimension)
    return ids.astype(np.uint64), vectors.astype(np.float32)


def _replace(graph: Any, ids: list[int], keys: np.ndarray, vectors: np.ndarray) -> None:
    """Rows `ids` as SQLite holds them now: out of the graph, then in again with a vector (`keys`)."""
    present = np.asarray(ids, dtype=np.uint64)
    present = present[graph.contains(present)] if len(graph) and len(present) else present[:0]
    if len(present):
        graph.remove(present)
    if len(keys):
        add_to_graph(graph, keys, vectors)


def _build_files(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".building"), path.with_name(path.name + ".started")


def move_graph(index_path: Path, to_index_path: Path) -> None:
    """The graph of one index file made the graph of another (the file moved with it), and an
    unfinished build of it dropped: a graph names rows by their ids in its own index."""
    path = ann_path(index_path)
    if path.exists():
        os.replace(path, ann_path(to_index_path))
    for leftover in _build_files(path):
        leftover.unlink(missing_ok=True)


def _save(graph: Any, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    graph.save(str(partial))
    os.replace(partial, path)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def add_to_graph(graph: Any, keys: np.ndarray, vectors: np.ndarray) -> None:
    """Add to the graph: one thread while it is young (see SERIAL_NODES), every core after."""
    serial = max(0, min(len(keys), SERIAL_NODES - len(graph)))
    if serial:
        graph.add(keys[:serial], vectors[:serial], threads=1)
    if serial < len(keys):
        graph.add(keys[serial:], vectors[serial:])


def _embedded(db: Database) -> int:
    """How many papers hold a vector: kept by triggers (sqlite_schema.py), not counted over every row
    (which would read the whole table, vectors included, into the writer's page cache)."""
    return int(db.execute("SELECT embedded FROM paper_counts").fetchone()[0])


def stored_vectors(db: Database, row_ids: list[int], dimension: int) -> list[tuple[int, np.ndarray]]:
    """(row id, float32 vector) of those rows that hold a vector now."""
    ids, vectors = stored_rows(db, row_ids, dimension)
    return list(zip(ids.tolist(), vectors.astype(np.float32)))


def stored_rows(db: Database, row_ids: list[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, float16 vectors as stored) of those rows that hold a vector now."""
    found: list[int] = []
    blobs: list[bytes] = []
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row_id, blob in db.execute(f"SELECT id, embedding FROM refs WHERE id IN ({marks}) AND embedding IS NOT NULL",
                                       chunk):
            found.append(row_id)
            blobs.append(blob)
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(found), dimension)
    return np.asarray(found, dtype=np.int64), vectors


def nearest_among(db: Database, query16: np.ndarray, limit: int, row_ids: list[int]) -> list[tuple[int, float]]:
    """The `limit` of `row_ids` most similar to `query16` (one float16 row), scored exactly: their
    stored vectors read a block at a time, so memory stays that of one block."""
    blocks = (stored_rows(db, row_ids[start:start + SCORED_BLOCK], query16.shape[1])
              for start in range(0, len(row_ids), SCORED_BLOCK))
    return best_scored(query16, blocks, limit)


def best_scored(query16: np.ndarray, blocks: Iterable[tuple[np.ndarray, np.ndarray]],
                limit: int) -> list[tuple[int, float]]:
    """The `limit` best (row id, inner product) over blocks of (row ids, float16 vectors): each
    block's products by `float16_products`, its best `limit` kept, then the best of those."""
    ids: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for block_ids, vectors in blocks:
        if not len(block_ids) or limit < 1:
            continue
        products = float16_products(query16, vectors)
        best = np.argpartition(-products, min(limit, len(products)) - 1)[:limit]
        ids.append(block_ids[best])
        scores.append(products[best])
    if not ids:
        return []
    all_ids, all_scores = np.concatenate(ids), np.concatenate(scores)
    best = np.argsort(-all_scores, kind="stable")[:limit]
    return list(zip(all_ids[best].tolist(), all_scores[best].tolist()))


def float16_products(query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The inner products (float64) of one float16 query row with float16 rows, on one thread.

    NumKong (usearch's own kernels, installed with it) converts float16 to float32 and sums in
    float32 with SIMD; one call per block holds the GIL for under a millisecond. usearch's exact
    search, used before, handed the GIL back and took it again throughout a call: beside one busy
    Python thread a search of 100,000 rows took 420–460 ms instead of 11.5 (bench/bench_dense_search.py),
    stalling completions behind every background lane's Python loop."""
    return np.asarray(numkong.cdist(query, vectors, metric="dot"), dtype=np.float64).reshape(-1)
