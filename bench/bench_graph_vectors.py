"""What the HNSW graph should hold: float16 vectors (the baseline), or int8 with the candidates
rescored from the float16 vectors (citewise, ann.py), or one bit per dimension, rescored too; and
int8 in the sparser graph citewise built before 2026-12-04 (connectivity 16 and expansion 128 to
add, against citewise's 24 and 256 now).

For 10,000 real all-MiniLM-L6-v2 vectors and 100,000 derived from them (bench_scale.py: the
papers of the arXiv-like files, `derived_vectors`), and the 300 real query sentences of
bench_search, each graph is built with citewise's connectivity and expansion to add, then
searched at several expansions for 10 results (the graph's own order) or for `ann.RESCORED`
candidates whose 10 best by their float16 vectors are kept (as `AnnReader.nearest` keeps them).
Printed: recall@10 against exact search over the float16 vectors, search milliseconds (median /
p95, one thread), CPU seconds to build, and the file's size.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_graph_vectors.py [--sizes 10000 100000] [--kinds ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from bench_scale import DIMENSION, derived_vectors, exact_top10, real_vectors
from timing import p95

from citewise.bib.index.ann import CONNECTIVITY, EXPANSION_ADD, RESCORED, graph_class

Graph = graph_class()  # usearch's, with onnxruntime loaded first (ann.graph_class)

# name: (vector type, metric, connectivity, expansion to add)
KINDS = {"f16 (baseline)": ("f16", "cos", CONNECTIVITY, EXPANSION_ADD),
         "i8 (citewise)": ("i8", "cos", CONNECTIVITY, EXPANSION_ADD),
         "b1": ("b1x8", "hamming", CONNECTIVITY, EXPANSION_ADD),
         "i8, sparser (before)": ("i8", "cos", 16, 128)}
EXPANSIONS = (256, 512, 1024, 2048)


def queries() -> np.ndarray:
    from bench_search import query_sets

    from citewise.bib.index.embed import Embedder

    return Embedder.load().encode(query_sets(300)["sentence"]).astype(np.float32)


def as_stored(kind: str, vectors: np.ndarray) -> np.ndarray:
    """Vectors as the graph takes them: float32, or their signs packed eight to a byte."""
    return np.packbits(vectors > 0, axis=1) if kind == "b1x8" else vectors


def measure(size: int, asked: np.ndarray, kinds: list[str]) -> None:
    matrix = (real_vectors(size) if size <= 10_000 else derived_vectors(size, seed=1)).astype(np.float16)
    row_ids = np.arange(1, size + 1)
    exact = exact_top10(row_ids, matrix, asked)
    vectors = matrix.astype(np.float32)
    for name in kinds:
        dtype, metric, connectivity, expansion_add = KINDS[name]
        graph = Graph(ndim=DIMENSION, metric=metric, dtype=dtype, connectivity=connectivity, expansion_add=expansion_add)
        started = time.process_time()
        graph.add(row_ids.astype(np.uint64), as_stored(dtype, vectors))
        build = time.process_time() - started
        with tempfile.TemporaryDirectory() as folder:
            graph.save(os.path.join(folder, "graph.usearch"))
            size_mb = os.path.getsize(os.path.join(folder, "graph.usearch")) / 1e6
        print(f"{size:,} vectors, {name} (connectivity {connectivity}, expansion {expansion_add} to add): built in {build:.0f} s of CPU, {size_mb:.0f} MB", flush=True)
        for expansion in EXPANSIONS:
            graph.expansion_search = expansion
            cells = []
            for candidates in (10, RESCORED):
                hits, seconds = 0, []
                for query, stored_query, expected in zip(asked, as_stored(dtype, asked), exact):
                    started = time.perf_counter()
                    keys = graph.search(stored_query, candidates, threads=1).keys.astype(np.int64)
                    if candidates > 10:
                        keys = keys[np.argsort(-(vectors[keys - 1] @ query), kind="stable")[:10]]
                    seconds.append(time.perf_counter() - started)
                    hits += len(expected & set(keys.tolist()))
                label = "graph's order" if candidates == 10 else f"{RESCORED} rescored"
                cells.append(f"{label} {hits / (10 * len(asked)):.3f} in {np.median(seconds) * 1e3:.1f} / "
                             f"{p95(seconds) * 1e3:.1f} ms")
            print(f"  expansion {expansion}: " + "; ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    args = parser.parse_args()
    asked = queries()
    for size in args.sizes:
        measure(size, asked, args.kinds)


if __name__ == "__main__":
    main()
