"""Key disambiguation: n papers whose formula gives the same base key (a reading list of
one author's "Lecture notes", a digest of untitled preprints).

`fill_keys` (what every reader runs) against, as the baseline from the same run, the rule
as it was before: every paper tries a, b, … from the start, so n papers cost O(n²) checks.
Median and p95 over repeated runs are printed.

    .venv/bin/python bench/bench_keys.py [--papers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import string
import time

from timing import p95

from citewise.bib.keys import KeyFormula, fill_keys
from citewise.bib.model import Author, Reference


def papers(n: int) -> list[Reference]:
    return [Reference(title="Lecture notes on learning", authors=[Author("Smith", "Ann")], year="2020") for _ in range(n)]


def keys_as_before(references: list[Reference], taken: set[str]) -> None:
    formula = KeyFormula()

    def suffixes():
        for length in itertools.count(1):
            for letters in itertools.product(string.ascii_lowercase, repeat=length):
                yield "".join(letters)

    for ref in references:
        base = formula.base_key(ref)
        ref.key = base if base not in taken else next(base + s for s in suffixes() if base + s not in taken)
        taken.add(ref.key)


def timed(function, n: int) -> float:
    references = papers(n)
    start = time.perf_counter()
    function(references, set())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    linear = [timed(fill_keys, args.papers) for _ in range(args.repeat)]
    before = [timed(keys_as_before, args.papers) for _ in range(args.repeat)]
    print(f"{args.papers} papers with one base key, {args.repeat} runs")
    print(f"  fill_keys (linear)         median {statistics.median(linear) * 1000:8.1f} ms   p95 {p95(linear) * 1000:8.1f} ms")
    print(f"  baseline: rule as before   median {statistics.median(before) * 1000:8.1f} ms   p95 {p95(before) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
