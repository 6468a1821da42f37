"""Every stored vector of a SQLite index in memory, for exact dense search, kept up to date by the rows that changed.

Below `ANN_THRESHOLD` papers (ann.py) a search scores every vector (float16, half the memory of
float32). A `VectorMatrix` is one immutable snapshot of them: blocks of about BLOCK_ROWS rows,
each block its own arrays, in row-id order. When the index changes, `refreshed` reads from
SQLite only the rows that `ann_changes` lists since the snapshot's position (the triggers of
sqlite_schema.py list every row whose vector was stored, cleared or deleted; `ann.sync` keeps
the last CHANGES_KEPT of them for this) and builds a new snapshot that copies only the blocks
holding those rows and shares the others. So a commit by another process costs work and memory
in proportion to the rows it changed, and no second matrix of every vector is ever alive.

Concurrency: a snapshot never changes once built. A search keeps the snapshot it started with;
the refresh publishes its new one with a single reference assignment (the model of
server/features/background.py). A snapshot is a cache of SQLite: nothing is ever written back.
Only when the listed changes were already forgotten, or are more than a quarter of the rows,
is every vector read again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from citewise.bib.index.ann import best_scored, list_ends, stored_vectors
from citewise.bib.index.connection import Database

BLOCK_ROWS = 16_384  # 12 MB of 384-dimensional float16 vectors: what one changed row costs to copy; one NumKong call per block per search
REREAD_FRACTION = 4


@dataclass(frozen=True)
class Block:
    """Some rows' ids (ascending) and their float16 vectors."""

    ids: np.ndarray
    vectors: np.ndarray


@dataclass(frozen=True)
class VectorMatrix:
    """The stored vectors of an index as of `revision` and of change `position` in `ann_changes`.
    `rows_read` counts the vectors read from SQLite to build it from the snapshot before."""

    dimension: int
    revision: int
    position: int
    blocks: tuple[Block, ...]
    rows_read: int

    def __len__(self) -> int:
        return sum(len(block.ids) for block in self.blocks)

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """The `limit` rows most similar to `query` (inner product), among `allowed` if given
        (`ann.best_scored`)."""
        query16 = np.asarray(query, dtype=np.float16).reshape(1, -1)
        if allowed is None:
            return best_scored(query16, ((block.ids, block.vectors) for block in self.blocks), limit)
        wanted = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
        kept = (np.flatnonzero(np.isin(block.ids, wanted)) for block in self.blocks)
        return best_scored(query16, ((block.ids[rows], block.vectors[rows]) for block, rows in zip(self.blocks, kept)),
                           limit)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """The vectors of the given rows as float32 (zeros for a row without one)."""
        found = np.zeros((len(ids), self.dimension), dtype=np.float32)
        if not self.blocks or not ids:
            return found
        wanted = np.asarray(ids, dtype=np.int64)
        owners = _owners(self.blocks, wanted)
        for number in np.unique(owners).tolist():
            block = self.blocks[number]
            here = np.flatnonzero(owners == number)
            positions = np.minimum(np.searchsorted(block.ids, wanted[here]), len(block.ids) - 1)
            present = block.ids[positions] == wanted[here]
            found[here[present]] = block.vectors[positions[present]]
        return found


def refreshed(db: Database, matrix: VectorMatrix | None, dimension: int) -> VectorMatrix:
    """The snapshot of the index as `db` sees it now: `matrix` with the rows changed since its
    position read again, or every vector read when that cannot be (see the module docstring).
    The log position and revision are read before the vectors, so a change committed meanwhile is
    read again by the next refresh: applying a row's current state twice is harmless."""
    revision = int((db.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone() or (0,))[0])
    first, last = list_ends(db)
    position = last or 0
    if matrix is None or matrix.dimension != dimension or position < matrix.position \
            or (first is not None and first > matrix.position + 1 and position > matrix.position):
        return _read_all(db, dimension, revision, position)
    if position == matrix.position:
        return replace(matrix, revision=revision, rows_read=0)
    changed = np.asarray([row[0] for row in db.execute(
        "SELECT DISTINCT id FROM ann_changes WHERE seq > ? ORDER BY id", (matrix.position,))], dtype=np.int64)
    still_listed = db.execute("SELECT min(seq) FROM ann_changes").fetchone()[0]  # none forgotten meanwhile
    if len(changed) > max(BLOCK_ROWS, len(matrix) // REREAD_FRACTION) or still_listed is None \
            or still_listed > matrix.position + 1:
        return _read_all(db, dimension, revision, position)
    stored = dict(stored_vectors(db, changed.tolist(), dimension))  # float16 -> float32 -> float16: exact
    empty = Block(np.empty(0, dtype=np.int64), np.empty((0, dimension), dtype=np.float16))
    blocks = list(matrix.blocks) or [empty]
    owners = _owners(tuple(blocks), changed)
    if len(blocks[-1].ids) >= BLOCK_ROWS:  # rows past a full last block start a new one: it is not copied
        past = changed > blocks[-1].ids[-1]
        if past.any():
            owners[past] = len(blocks)
            blocks.append(empty)
    rebuilt: list[Block] = []
    for number, block in enumerate(blocks):
        touched = changed[owners == number]
        if not len(touched):
            rebuilt.append(block)
            continue
        kept = ~np.isin(block.ids, touched)
        new_ids = np.asarray([row_id for row_id in touched.tolist() if row_id in stored], dtype=np.int64)
        ids = np.concatenate([block.ids[kept], new_ids])
        vectors = np.concatenate([block.vectors[kept], np.asarray([stored[row_id] for row_id in new_ids.tolist()],
                                                                  dtype=np.float16).reshape(len(new_ids), dimension)])
        order = np.argsort(ids, kind="stable")
        rebuilt += _split(Block(ids[order], vectors[order]))
    return VectorMatrix(dimension, revision, position, tuple(rebuilt), rows_read=len(stored))


def _read_all(db: Database, dimension: int, revision: int, position: int) -> VectorMatrix:
    """Every stored vector, BLOCK_ROWS rows at a time straight into their blocks."""
    rows = db.execute("SELECT id, embedding FROM refs WHERE embedding IS NOT NULL ORDER BY id")
    blocks: list[Block] = []
    while chunk := rows.fetchmany(BLOCK_ROWS):
        ids = np.asarray([row_id for row_id, _ in chunk], dtype=np.int64)
        vectors = np.frombuffer(b"".join(blob for _, blob in chunk), dtype=np.float16).reshape(len(chunk), dimension)
        blocks.append(Block(ids, vectors))
    return VectorMatrix(dimension, revision, position, tuple(blocks), rows_read=sum(len(block.ids) for block in blocks))


def _owners(blocks: tuple[Block, ...], ids: np.ndarray) -> np.ndarray:
    """The block each row id belongs in: the last block whose first id is not above it (the first
    block for ids below every block's)."""
    firsts = np.asarray([block.ids[0] if len(block.ids) else 0 for block in blocks], dtype=np.int64)
    return np.maximum(np.searchsorted(firsts, ids, side="right") - 1, 0)


def _split(block: Block) -> list[Block]:
    """A block grown past twice BLOCK_ROWS cut into blocks of BLOCK_ROWS; an emptied one dropped."""
    if not len(block.ids):
        return []
    if len(block.ids) <= 2 * BLOCK_ROWS:
        return [block]
    return [Block(block.ids[start:start + BLOCK_ROWS], block.vectors[start:start + BLOCK_ROWS])
            for start in range(0, len(block.ids), BLOCK_ROWS)]
