"""The embeddings an index stores: which papers need one, saving and loading vectors, the model they came from.

A paper's vector represents `embedding_text(ref)`; each row keeps the hash of that text when
it was embedded, so a changed title or abstract marks the row for re-embedding. Encoding
itself lives in embed.py; this module only keeps the vectors (float16 blobs in SQLite).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from citewise.bib.errors import CitewiseError
from citewise.bib.index.connection import IndexConnection
from citewise.bib.model import Reference, reference_from_dict

VECTOR_CHUNK_ROWS = 4096
PENDING = "({row}.embedding IS NULL OR {row}.embedded_hash IS DISTINCT FROM {row}.text_hash)"
"""A row (`row`: refs, or a trigger's `new`) waiting for a vector: none yet, or its text changed since."""


@dataclass(frozen=True)
class PendingEmbedding:
    """One reference's row id and the text its embedding must represent."""

    row_id: int
    text: str


def embedding_text(ref: Reference) -> str:
    """What the dense model sees of a reference: its title, then its abstract."""
    return f"{ref.title}. {ref.abstract}".strip(" .") if ref.abstract else ref.title


class EmbeddingRows(IndexConnection):
    """The vector columns of the index's rows and the model recorded in its meta table."""

    PENDING_ROWS_SQL = ("SELECT refs.id, refs.data FROM pending_rows JOIN refs ON refs.id = pending_rows.id"
                        f" WHERE pending_rows.id > ? AND {PENDING.format(row='refs')} ORDER BY pending_rows.id")

    def check_model(self, name: str, dimension: int) -> None:
        """Refuse a model other than the one the stored vectors came from."""
        stored_name, stored_dimension = self.get_meta("model"), self.get_meta("dimension")
        if stored_name is None:
            return
        if stored_name != name or int(stored_dimension or 0) != dimension:
            raise CitewiseError(
                f"{self.path}: embedded with {stored_name} ({stored_dimension} dims) but the model is {name} "
                f"({dimension} dims); run `citewise index reembed` to re-embed with it"
            )

    def set_model(self, name: str, dimension: int) -> None:
        with self.transaction():
            self.set_meta("model", name)
            self.set_meta("dimension", str(dimension))

    def clear_embeddings(self) -> None:
        with self.transaction():
            self.db.execute("UPDATE refs SET embedding = NULL, embedded_hash = NULL")
            self.db.execute("DELETE FROM meta WHERE name IN ('model', 'dimension')")
            self._bump_revision()

    def needing_embedding(self, after: int = 0, limit: int | None = None) -> list[PendingEmbedding]:
        """References never embedded or whose title/abstract changed since, in row order: those
        past row id `after`, at most `limit` of them (a window, so memory stays bounded). The
        triggers of sqlite_schema.py (schema 13) list them in `pending_rows` (`PENDING_ROWS_SQL`)."""
        rows = self.db.execute(self.PENDING_ROWS_SQL + (" LIMIT ?" if limit else ""), (after, limit) if limit else (after,))
        return [PendingEmbedding(row_id, embedding_text(reference_from_dict(json.loads(data)))) for row_id, data in rows]

    def store_embeddings(self, row_ids: list[int], vectors: np.ndarray) -> None:
        """Save normalized vectors (stored as float16) for the given rows, in one transaction."""
        half = np.asarray(vectors, dtype=np.float16)
        with self.transaction():
            self.db.executemany(
                "UPDATE refs SET embedding = ?, embedded_hash = text_hash WHERE id = ?",
                ((half[i].tobytes(), row_id) for i, row_id in enumerate(row_ids)),
            )
            self._bump_revision()

    def load_embeddings(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, float16 matrix) of every embedded reference, filled a chunk of rows at a time to bound memory."""
        total = self.db.execute("SELECT count(*) FROM refs WHERE embedding IS NOT NULL").fetchone()[0]
        ids = np.empty(total, dtype=np.int64)
        matrix = np.empty((total, dimension), dtype=np.float16)
        rows = self.db.execute("SELECT id, embedding FROM refs WHERE embedding IS NOT NULL ORDER BY id")
        filled = 0
        while filled < total and (chunk := rows.fetchmany(min(VECTOR_CHUNK_ROWS, total - filled))):
            end = filled + len(chunk)
            ids[filled:end] = [row_id for row_id, _ in chunk]
            matrix[filled:end] = np.frombuffer(b"".join(blob for _, blob in chunk), dtype=np.float16).reshape(len(chunk), dimension)
            filled = end
        return ids[:filled], matrix[:filled]
