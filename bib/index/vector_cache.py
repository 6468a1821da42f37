"""Embeddings of a list of texts kept on disk, keyed by the model and the texts themselves.

The language server embeds the titles of a draft's .bib files each time it starts (5,000
titles: half a minute of CPU on two cores, beside the author's typing). With this cache only
the first start over a given .bib pays it. Each CHUNK of texts is one `.npy` file under `vectors/`
in citewise's cache directory (`cache_dir`, as the field cache: `$CITEWISE_CACHE_DIR` overrides
it), named by a digest of the model's name, the token limit and its texts: an edited title makes
a new file for its chunk, and the oldest files go past MAX_FILES. Like the field cache it only saves
time: a file that cannot be read or written costs an embedding, never a wrong vector.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from citewise.bib.bibtex.cache import cache_dir
from citewise.bib.index.embed import Embedder

log = logging.getLogger(__name__)

CHUNK = 64
MAX_FILES = 4096  # 260,000 titles, 400 MB


def encode_cached(embedder: Embedder, texts: Sequence[str], batch_size: int,
                  between_batches: Callable[[], None] = lambda: None) -> np.ndarray:
    """`embedder.encode(texts, batch_size)`, CHUNK texts at a time, each chunk read from the cache
    when it was embedded before (a server stopped half-way keeps what it embedded; one edited title
    costs one chunk). `between_batches` is called before each batch the model computes (the
    language server pauses there while suggestions are computed)."""
    folder = cache_dir() / "vectors"
    parts = [_chunk(embedder, list(texts[start:start + CHUNK]), batch_size, folder, between_batches)
             for start in range(0, len(texts), CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def _chunk(embedder: Embedder, texts: list[str], batch_size: int, folder: Path,
           between_batches: Callable[[], None]) -> np.ndarray:
    digest = hashlib.sha256("\0".join([embedder.name, str(embedder.query_max_tokens), *texts]).encode()).hexdigest()
    path = folder / f"{digest[:40]}.npy"
    try:
        vectors: np.ndarray = np.load(path, allow_pickle=False)
        if vectors.shape == (len(texts), embedder.dimension) and vectors.dtype == np.float32:
            os.utime(path)  # recently used: pruned last
            return vectors
    except (OSError, ValueError):
        pass
    order = sorted(range(len(texts)), key=lambda position: -len(texts[position]))  # batches of like length
    vectors = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        between_batches()
        batch = order[start:start + batch_size]
        vectors[batch] = embedder.encode([texts[position] for position in batch], batch_size=batch_size)
    try:
        _write(folder, path, vectors)
    except OSError as error:
        log.warning("cannot keep embeddings in %s: %s", folder, error)
    return vectors


def _write(folder: Path, path: Path, vectors: np.ndarray) -> None:
    """Write to a temporary file and rename it into place; then drop the oldest files."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as sink:
            np.save(sink, vectors, allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    kept = sorted(folder.glob("*.npy"), key=lambda file: file.stat().st_mtime, reverse=True)
    for old in kept[MAX_FILES:]:
        old.unlink(missing_ok=True)
