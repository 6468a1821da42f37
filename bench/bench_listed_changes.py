"""Dense search on a large index while a command stores vectors its graph does not hold yet.

Between two folds of `index reembed --pending` or `index vectors FILE` (ann.FOLD_ROWS rows apart),
and for the whole of a large update or after a killed run, `ann_changes` lists rows whose vectors
the HNSW file does not hold. Every search leaves those rows' graph entries out and scores the rows
exactly (ann.py). This measures what that costs a reader, a language server say, that opened the
index before: an index of 250,000 papers past ANN_THRESHOLD, its graph built, then L papers'
vectors stored again without a fold, for L = 0 (the baseline, from the same run), 1,000, 10,000,
50,000 and 200,000 (past LISTED_SCORED): `Index.nearest` p50/p95 over the queries (one thread),
and the reader's first search after each step, which reads the new changes.

Vectors are synthetic, with neighbourhoods (each a random one of 2,000 centres plus noise): what is
measured is the listed rows' cost beside the graph's walk, not recall. The index (SQLite and graph)
is built once into bench/results/listed/ and copied for each run, which leaves it as it was.

    .venv/bin/python bench/bench_listed_changes.py [--papers 250000] [--queries 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
from timing import p95

from citewise.bib.index import ann
from citewise.bib.index.store import Index
from citewise.bib.model import Reference

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "listed"
DIMENSION = 384
CENTRES = 2_000
STEPS = [0, 1_000, 10_000, 50_000, 200_000]


def clustered(count: int, seed: int) -> np.ndarray:
    """`count` unit vectors, each a random one of CENTRES centres plus noise (norm about 0.6)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((CENTRES, DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = centres[rng.integers(0, CENTRES, count)]
    vectors += 0.6 * rng.standard_normal((count, DIMENSION)).astype(np.float32) / np.sqrt(DIMENSION)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def built(papers: int) -> Path:
    """The benchmark index with its graph (built once, cached)."""
    path = RESULTS / f"index-{papers}.sqlite"
    if path.exists() and ann.ann_path(path).exists():
        return path
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    with Index.open(path) as index:
        for start in range(0, papers, 10_000):
            index.add_references([Reference(key=f"p{n}", title=f"Paper {n} on topic {n % CENTRES}", year="2024")
                                  for n in range(start, min(papers, start + 10_000))])
        index.set_model("synthetic", DIMENSION)
        ids = [row[0] for row in index.db.execute("SELECT id FROM refs ORDER BY id")]
        for start in range(0, len(ids), 20_000):
            chunk = ids[start:start + 20_000]
            index.store_embeddings(chunk, clustered(len(chunk), seed=start + 1))
        index.sync_ann()
    print(f"built {papers:,} papers and their graph in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def measure(source: Path, queries: int) -> list[dict[str, float]]:
    work = RESULTS / "work.sqlite"
    for suffix in ("", "-wal", "-shm", ann.ANN_SUFFIX):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, work)
    shutil.copyfile(ann.ann_path(source), ann.ann_path(work))
    vectors = clustered(queries, seed=999)
    figures = []
    with Index.open(work) as writer, Index.open(work, read_only=True) as reader:
        ids = [row[0] for row in writer.db.execute("SELECT id FROM refs ORDER BY id")]
        rng = np.random.default_rng(5)
        chosen = rng.permutation(ids)[:STEPS[-1]].tolist()
        reader.nearest(vectors[0], 10, None)  # the graph mapped, its pages warm
        for query in vectors:
            reader.nearest(query, 10, None)
        stored = 0
        for listed in STEPS:
            for start in range(stored, listed, 2_000):  # as a command commits them: a batch at a time
                batch = chosen[start:min(listed, start + 2_000)]
                writer.store_embeddings(batch, clustered(len(batch), seed=start + 7))
            stored = listed
            started = time.perf_counter()
            reader.nearest(vectors[0], 10, None)
            first = (time.perf_counter() - started) * 1000
            times = []
            for query in vectors:
                started = time.perf_counter()
                reader.nearest(query, 10, None)
                times.append((time.perf_counter() - started) * 1000)
            row = {"listed": listed, "first_ms": round(first, 1), "p50_ms": round(statistics.median(times), 2),
                   "p95_ms": round(p95(times), 2)}
            print(json.dumps(row), flush=True)
            figures.append(row)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=250_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    figures = measure(built(args.papers), args.queries)
    with (RESULTS / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "papers": args.papers, "steps": figures}) + "\n")


if __name__ == "__main__":
    main()
