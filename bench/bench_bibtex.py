"""Benchmark of .bib reading: keys and spans, cold fields, warm cache, one-entry change, beside plain bibtexparser.

Run: .venv/bin/python bench/bench_bibtex.py [--repeat N] [--entries N] [--no-baseline]

For a synthetic library (5,000 entries by default, Zotero-export-like with abstracts) and the
real libraries under tests/fixtures/bibtex it prints median and p95 wall time of:
  keys+spans   read_bib_file(wait=False) returning: every key and span known, fields to follow
  cold fields  until the background thread has parsed every entry (empty cache)
  warm cache   a second read of the unchanged file as a new process does it (empty memory, SQLite cache)
  one changed  a re-read in the same process after the first entry's title changed
  bibtexparser plain bibtexparser.loads of the same text (the baseline)
Times are wall-clock median and p95, with the median CPU time of the reading thread beside
them (on a busy machine the wall time includes waiting for a core). The cache lives in a
temporary directory, never the user's.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from citewise.bib.bibtex.cache import FieldCache
from citewise.bib.bibtex.parse import load_whole_file
from citewise.bib.bibtex.reader import read_bib_file
from citewise.bib.files import decode

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bibtex"
REAL_FILES = [
    FIXTURES / "jabref" / "jabref-authors.bib",
    FIXTURES / "better-bibtex-import" / "Some bibtex entries quietly discarded on import from bib file #873.bib",
]
WORDS = (
    "attention deep learning neural network model graph language transformer vision robust sparse efficient "
    "training data large scale analysis method optimal control theory bayesian inference retrieval"
).split()


def synthetic_library(count: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    entries = []
    for number in range(count):
        title = " ".join(rnd.choice(WORDS) for _ in range(8)).capitalize()
        abstract = " ".join(rnd.choice(WORDS) for _ in range(60))
        entries.append(
            f"@article{{key{number:05d},\n"
            f"  title = {{{{BERT}}: {title}}},\n"
            f"  author = {{M{{\\\"u}}ller, Hans and Smith, John and Doe, Jane}},\n"
            f"  journal = {{Journal of {rnd.choice(WORDS).capitalize()}}},\n"
            f"  year = {{{rnd.randint(1990, 2024)}}},\n  volume = {{{rnd.randint(1, 99)}}},\n"
            f"  number = {{{rnd.randint(1, 12)}}},\n  pages = {{{rnd.randint(1, 500)}--{rnd.randint(501, 999)}}},\n"
            f"  doi = {{10.1000/j.{number}}},\n  abstract = {{{abstract}}},\n  month = jan\n}}\n"
        )
    return "\n".join(entries)


def timed(action) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) taken by `action`."""
    started, cpu = time.perf_counter(), time.thread_time()
    action()
    return time.perf_counter() - started, time.thread_time() - cpu


def summary(samples: list[tuple[float, float]]) -> str:
    """Median and p95 of wall time, and median CPU time (the machine may be shared)."""
    walls = sorted(wall for wall, _ in samples)
    p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
    cpu = statistics.median(cpu for _, cpu in samples)
    return f"median {statistics.median(walls) * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  cpu {cpu * 1000:8.1f} ms  (n={len(walls)})"


def copy_of(path: Path, workdir: Path, text: str) -> Path:
    """A new file name each time, so no earlier read of the same path can be reused."""
    copy = Path(tempfile.mkstemp(dir=workdir, suffix=".bib")[1])
    copy.write_text(text)
    return copy


def bench_file(path: Path, repeat: int, baseline: bool, workdir: Path) -> None:
    text = decode(path.read_bytes()).text
    print(f"\n{path.name}: {len(text) / 1e6:.1f} MB")

    keys, cold = [], []
    for _ in range(max(1, repeat // 10)):
        cache, copy = FieldCache(Path(tempfile.mkdtemp(dir=workdir))), copy_of(path, workdir, text)
        started, cpu = time.perf_counter(), time.thread_time()
        bib = read_bib_file(copy, wait=False, cache=cache)
        keys.append((time.perf_counter() - started, time.thread_time() - cpu))
        bib.wait_for_fields()
        cold.append((time.perf_counter() - started, time.thread_time() - cpu))
    entries = len(bib.entries)
    print(f"  entries {entries}")
    print(f"  keys+spans    {summary(keys)}")
    print(f"  cold fields   {summary(cold)}  ({cold[0][0] / entries * 1000:.2f} ms/entry, in a background thread)")

    warm_directory = Path(tempfile.mkdtemp(dir=workdir))
    read_bib_file(path, cache=FieldCache(warm_directory))
    warm = []
    for _ in range(repeat):
        copy = copy_of(path, workdir, text)
        warm.append(timed(lambda: read_bib_file(copy, cache=FieldCache(warm_directory))))
    print(f"  warm cache    {summary(warm)}")

    session = FieldCache(warm_directory)
    edited = copy_of(path, workdir, text)
    read_bib_file(edited, cache=session)
    one_changed = []
    for round_number in range(repeat):
        edited.write_text(text.replace("title = {", f"title = {{Edited {round_number} ", 1))
        one_changed.append(timed(lambda: read_bib_file(edited, cache=session)))
    print(f"  one changed   {summary(one_changed)}")

    if baseline:
        plain = [timed(lambda: load_whole_file(text)) for _ in range(max(1, repeat // 10))]
        print(f"  bibtexparser  {summary(plain)}  ({plain[0][0] / entries * 1000:.2f} ms/entry)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--no-baseline", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        os.environ["CITEWISE_CACHE_DIR"] = str(workdir / "unused")
        synthetic = workdir / f"synthetic-{options.entries}.bib"
        synthetic.write_text(synthetic_library(options.entries))
        for path in [synthetic, *REAL_FILES]:
            bench_file(path, options.repeat, not options.no_baseline, workdir)


if __name__ == "__main__":
    main()
