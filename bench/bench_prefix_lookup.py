"""Completion's word lookups at field scale: a typed prefix in refs_names against refs_fts.

Completion finds index papers by the words typed after `\\cite{` (sqlite_queries.word_prefix_ids):
every word in a paper's title, authors or key, the last one perhaps unfinished. Since schema 11
it looks them up in refs_names, which holds those three columns alone and merges the postings of
every two- and three-letter prefix in advance; the baseline, in the same run on the same file,
is the lookup it replaced: refs_fts (abstracts included) under a column filter.

The prefixes are the first 2, 3, 4 and 5 letters of 300 words of four letters or more from
titles of the index, each looked up twice (the second pass is timed: the page cache warm, as
in an editor that has been completing for a while), `LIMIT 200` as completion asks.

    .venv/bin/python bench/bench_prefix_lookup.py [INDEX]   (default: bench_scale's 1M index)
"""

from __future__ import annotations

import random
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from timing import p95

DEFAULT_INDEX = Path(__file__).resolve().parent / "results" / "scale" / "index-1000000.sqlite"
LOOKUPS = {"refs_fts under a column filter (baseline)": ("refs_fts", "{{title authors key}} : (\"{}\"*)"),
           "refs_names (citewise)": ("refs_names", "\"{}\"*")}
WORDS = 300
LENGTHS = (2, 3, 4, 5)


def prefixes(db: sqlite3.Connection) -> list[str]:
    """The first letters of words from the titles of papers spread over the index."""
    largest = db.execute("SELECT max(rowid) FROM refs_fts").fetchone()[0]
    rng = random.Random(3)
    words: list[str] = []
    while len(words) < WORDS:
        row = db.execute("SELECT title FROM refs_fts WHERE rowid >= ? LIMIT 1", (rng.randint(1, largest),)).fetchone()
        words += [word.lower() for word in re.findall(r"[A-Za-z]{4,}", row[0] if row else "")][:2]
    return [word[:length] for word in words[:WORDS] for length in LENGTHS]


def main() -> None:
    index = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_INDEX
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    papers = db.execute("SELECT count(*) FROM refs_names").fetchone()[0]
    typed = prefixes(db)
    print(f"{index.name}: {papers:,} papers, {len(typed)} prefixes; milliseconds, median / p95 / max by letters typed")
    for name, (table, match) in LOOKUPS.items():
        for _ in range(2):  # the second pass is kept (page cache warm)
            by_length: dict[int, list[float]] = {}
            for prefix in typed:
                started = time.perf_counter()
                db.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT 200", (match.format(prefix),)).fetchall()
                by_length.setdefault(len(prefix), []).append(time.perf_counter() - started)
        cells = ", ".join(f"{length}: {statistics.median(s) * 1e3:.2f} / {p95(s) * 1e3:.2f} / {max(s) * 1e3:.1f}"
                          for length, s in sorted(by_length.items()))
        print(f"  {name}: {cells}")


if __name__ == "__main__":
    main()
