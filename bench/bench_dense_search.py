"""The index's exact dense search (bib/index/vector_matrix.py) alone and beside a busy Python thread.

One query against `--rows` float16 vectors in blocks of BLOCK_ROWS, one thread, as a SQLite index
below the HNSW threshold searches in the language server: what a completion waits for on the
features thread while the background lanes run Python loops (parsing a .bib, embedding titles).
Two ways, alternating in one process with the server's switch interval:
- `VectorMatrix.nearest`, the index's search (NumKong, float32 sums);
- usearch's exact search (`usearch.index.search(..., exact=True)`), what it used before: the
  baseline.
Each alone, then beside one thread running a Python loop at the background lanes' nice value.
Also: how often both agree on the top `--k` (the same set of rows), and the largest difference
between the index's scores and float64 products of the same float16 vectors.

    PYTHONPATH=$PWD/build/tree .venv/bin/python bench/bench_dense_search.py [--rows 100000] [--repeat 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from usearch.index import search

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import p95  # noqa: E402

from citewise.bib.index.vector_matrix import BLOCK_ROWS, Block, VectorMatrix  # noqa: E402
from citewise.server.features.background import BACKGROUND_NICENESS, SWITCH_INTERVAL_S, lower_thread_priority  # noqa: E402


def by_usearch(blocks: list[Block], query: np.ndarray, k: int) -> list[int]:
    ids, scores = [], []
    for block in blocks:
        found = search(block.vectors, query.astype(np.float16), k, "ip", exact=True, threads=1)
        ids.append(block.ids[found.keys.astype(np.int64)])
        scores.append(1 - found.distances.astype(np.float64))
    all_ids, all_scores = np.concatenate(ids), np.concatenate(scores)
    return all_ids[np.argsort(-all_scores, kind="stable")[:k]].tolist()


def busy_python(stop: threading.Event) -> None:
    lower_thread_priority(BACKGROUND_NICENESS)
    count = 0
    while not stop.is_set():
        count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--k", type=int, default=90)
    args = parser.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.rows, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    half = vectors.astype(np.float16)
    blocks = [Block(np.arange(start, min(start + BLOCK_ROWS, args.rows), dtype=np.int64), half[start:start + BLOCK_ROWS])
              for start in range(0, args.rows, BLOCK_ROWS)]
    matrix = VectorMatrix(384, 0, 0, tuple(blocks), rows_read=args.rows)
    queries = [vectors[i] + 0.5 * rng.standard_normal(384).astype(np.float32) for i in range(args.repeat)]
    queries = [query / np.linalg.norm(query) for query in queries]

    same, worst = 0, 0.0
    for query in queries:
        found = matrix.nearest(query, args.k, None)
        same += int({row for row, _ in found} == set(by_usearch(blocks, query, args.k)))
        exact = half[[row for row, _ in found]].astype(np.float64) @ query.astype(np.float16).astype(np.float64)
        worst = max(worst, float(np.abs(exact - np.asarray([score for _, score in found])).max()))
    print(f"dense search, 1 query x {args.rows:,} float16 vectors in blocks of {BLOCK_ROWS:,}, 1 thread, "
          f"top {args.k}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"  same top {args.k} as usearch: {same}/{len(queries)}; largest score error {worst:.1e}")

    stop = threading.Event()
    for beside in ("alone", "beside a busy Python thread (nice +10)"):
        if beside != "alone":
            threading.Thread(target=busy_python, args=(stop,), daemon=True).start()
            time.sleep(0.1)
        times: dict[str, list[float]] = {"VectorMatrix.nearest": [], "usearch exact (before)": []}
        for query in queries:
            for name, run in (("VectorMatrix.nearest", lambda: matrix.nearest(query, args.k, None)),
                              ("usearch exact (before)", lambda: by_usearch(blocks, query, args.k))):
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
        for name, values in times.items():
            print(f"  {beside:40s} {name:24s} median {statistics.median(values) * 1000:7.1f} ms   "
                  f"p95 {p95(values) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms")
    stop.set()


if __name__ == "__main__":
    main()
