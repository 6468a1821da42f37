"""Vectors computed elsewhere (a GPU cluster, another tool), stored for the papers of an index.

The file is JSON Lines, one paper per line: the paper named by `"arxiv"`, `"doi"` or `"key"`
(the first present, in that order) and its `"vector"`, a list of numbers:

    {"arxiv": "2310.13268", "vector": [0.0132, -0.0871, ...]}
    {"doi": "10.1145/3292500.3330701", "vector": [...]}

Every vector must have the model's dimension; each is normalised to unit length. The caller
names the model they came from, which must be the index's (or the index has none yet), since
queries are embedded with it. A vector is taken to represent the paper's current title and
abstract. Lines naming no paper of the index, or malformed, are counted and reported by line;
the file is read as a stream and committed in batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citewise.bib.errors import SourceError
from citewise.bib.files import open_regular
from citewise.bib.index.ann import FOLD_ROWS
from citewise.bib.index.store import Index
from citewise.bib.model import normalize_arxiv, normalize_doi

BATCH = 2000


@dataclass
class VectorImport:
    stored: int = 0
    unknown: int = 0
    errors: list[SourceError] = field(default_factory=list)


def import_vectors(index: Index, path: Path, model: str) -> VectorImport:
    """Store the vectors of `path` (format above) for the papers of `index`, embedded by `model`."""
    result = VectorImport()
    dimension: int | None = int(index.get_meta("dimension") or 0) or None
    if dimension is not None:
        index.check_model(model, dimension)
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    folded = 0
    for line, name, value, vector in _lines(path, result):
        if dimension is None:
            dimension = len(vector)
            index.set_model(model, dimension)
        if len(vector) != dimension:
            result.errors.append(SourceError(str(path), line, f"{len(vector)} numbers, the model's vectors have {dimension}"))
            continue
        row_id = _row_for(index, name, value)
        if row_id is None:
            result.unknown += 1
            continue
        ids.append(row_id)
        vectors.append(vector)
        if len(ids) >= BATCH:
            result.stored += _store(index, ids, vectors)
            ids, vectors = [], []
            if result.stored - folded >= FOLD_ROWS:  # a large index's graph takes them now (ann.py)
                index.sync_ann()
                folded = result.stored
    result.stored += _store(index, ids, vectors)
    index.sync_ann()
    return result


def _lines(path: Path, result: VectorImport) -> Iterator[tuple[int, str, str, np.ndarray]]:
    with open_regular(path, limit=None) as stream:
        for number, raw in enumerate(stream, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                name = next(name for name in ("arxiv", "doi", "key") if record.get(name))
                vector = np.asarray(record["vector"], dtype=np.float32)
            except (ValueError, TypeError, KeyError, StopIteration, AttributeError):
                result.errors.append(SourceError(str(path), number,
                                                 'expected {"arxiv"|"doi"|"key": ..., "vector": [numbers]}'))
                continue
            norm = float(np.linalg.norm(vector)) if vector.ndim == 1 else 0.0
            if not norm or not np.isfinite(norm):
                result.errors.append(SourceError(str(path), number, "the vector is empty, zero or not finite"))
                continue
            yield number, name, str(record[name]), vector / norm


def _row_for(index: Index, name: str, value: str) -> int | None:
    column, wanted = {"arxiv": ("arxiv", normalize_arxiv(value)), "doi": ("doi", normalize_doi(value))}.get(name, ("key", value))
    row = index.db.execute(f"SELECT id FROM refs WHERE {column} = ?", (wanted,)).fetchone()
    if row is None and name == "key":
        row = index.db.execute("SELECT ref_id FROM aliases WHERE key = ?", (wanted,)).fetchone()
    return int(row[0]) if row else None


def _store(index: Index, ids: list[int], vectors: list[np.ndarray]) -> int:
    if ids:
        index.store_embeddings(ids, np.stack(vectors))
    return len(ids)
