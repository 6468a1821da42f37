"""Ingest without embeddings must be linear: refs/s of `index add --no-embed` at growing sizes.

Each size gets a fresh index file and a synthetic arXiv JSON Lines file of that many
papers: titles of 5–12 words drawn from the seed digest's vocabulary, one to five authors
from 15 common family names, ten years. Few names and years make large (first author,
year) groups, the worst case for near-duplicate lookup. citewise reads the file and adds
it (`read_path` + `Index.add_references`, the `citewise index add --no-embed` path);
the baseline in the same run parses the same lines with `json.loads` and inserts
them into a plain SQLite table with an FTS5 index, the least any ingest does. Linear
ingest keeps refs/s flat as the size grows. Times are the process's CPU time (SQLite runs
in the same thread), so other work on a shared machine does not blur the comparison.

    .venv/bin/python bench/bench_ingest_scale.py [--sizes 10000 20000 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from timing import p95

from citewise.bib.index.store import Index
from citewise.bib.readers import read_path

REPO = Path(__file__).resolve().parents[1]
FAMILIES = "Wang Li Zhang Liu Chen Yang Smith Kim Lee Muller Garcia Rossi Kumar Singh Tanaka".split()


def write_jsonl(path: Path, count: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    text = (REPO / "examples" / "daily-papers-digest.txt").read_text(encoding="utf-8")
    words = sorted({word for word in text.split() if word.isalpha() and len(word) > 3})
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            record = {
                "id": f"{2001 + number // 100000}.{number % 100000:05d}",
                "title": " ".join(rng.choice(words) for _ in range(rng.randint(5, 12))).capitalize(),
                "abstract": " ".join(rng.choice(words) for _ in range(80)),
                "categories": "cs.LG",
                "update_date": f"{rng.randint(2015, 2024)}-01-01",
                "authors_parsed": [[rng.choice(FAMILIES), rng.choice("ABCDEFGH"), ""] for _ in range(rng.randint(1, 5))],
            }
            out.write(json.dumps(record) + "\n")


def citewise_seconds(source: Path, folder: Path) -> float:
    started = time.process_time()
    refs = read_path(source).references
    with Index.open(folder / "index.sqlite") as index:
        index.add_references(refs)
    return time.process_time() - started


def baseline_seconds(source: Path, folder: Path) -> float:
    started = time.process_time()
    db = sqlite3.connect(folder / "plain.sqlite")
    db.execute("CREATE TABLE papers (id INTEGER PRIMARY KEY, arxiv TEXT UNIQUE, title TEXT, data TEXT)")
    db.execute("CREATE VIRTUAL TABLE papers_fts USING fts5(title, abstract)")
    with source.open(encoding="utf-8") as lines, db:
        for line in lines:
            record = json.loads(line)
            row = db.execute("INSERT INTO papers(arxiv, title, data) VALUES (?, ?, ?)", (record["id"], record["title"], line)).lastrowid
            db.execute("INSERT INTO papers_fts(rowid, title, abstract) VALUES (?, ?, ?)", (row, record["title"], record["abstract"]))
    db.close()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 20000, 50000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'papers':>8} {'citewise refs/s':>16} {'p95 slow':>9} {'baseline refs/s':>16} {'ratio':>6}")
    for size in args.sizes:
        ours, plain = [], []
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "papers.jsonl"
            write_jsonl(source, size)
            for run in range(args.repeat):
                for measure, rates in ((baseline_seconds, plain), (citewise_seconds, ours)):
                    folder = Path(scratch) / f"{measure.__name__}-{run}"
                    folder.mkdir()
                    rates.append(size / measure(source, folder))
        slowest = size / p95([size / rate for rate in ours])
        print(f"{size:>8} {statistics.median(ours):>16.0f} {slowest:>9.0f} {statistics.median(plain):>16.0f}"
              f" {statistics.median(ours) / statistics.median(plain):>6.2f}")


if __name__ == "__main__":
    main()
