"""Reader throughput: references per second for each format, beside the bare JSON parse of the same bytes.

Synthetic files of realistic shape are written to a temporary directory, then each is read
with `read_path` (detection, decoding, mapping, keys) and, as the baseline, just decoded and
parsed with the json module. Median and p95 over repeated runs are printed.

    .venv/bin/python bench/bench_readers.py [--papers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from timing import p95

from citewise.bib.readers import read_path
from citewise.bib.zotero.sqlite_reader import read_zotero_sqlite

REPO = Path(__file__).resolve().parents[1]
ZOTERO_SQLITE = REPO / "tests" / "fixtures" / "readers" / "zotero.sqlite"
ABSTRACT = " ".join(["Diffusion models sample images by solving an ODE with few function evaluations."] * 12)


def _title(i: int) -> str:
    """Distinct first words, as real titles have (same-base keys would time the key formula instead)."""
    return f"Solver{i} Sampling Diffusion Models\n  at Scale"


def write_arxiv_jsonl(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = {
                "id": f"23{i % 12 + 1:02d}.{i:05d}",
                "title": _title(i),
                "abstract": ABSTRACT,
                "authors_parsed": [["Lovelace", "Ada", ""], ["Babbage", "Charles", ""]],
                "doi": f"10.1234/x.{i}",
                "categories": "cs.LG stat.ML",
                "update_date": "2023-10-20",
            }
            out.write(json.dumps(record) + "\n")


def write_csl_json(path: Path, n: int) -> None:
    items = [
        {
            "id": f"key{i}",
            "type": "article-journal",
            "title": _title(i),
            "author": [{"family": "Lovelace", "given": "Ada"}],
            "issued": {"date-parts": [[2020 + i % 5, 5]]},
            "container-title": "Journal of Examples",
            "abstract": ABSTRACT,
        }
        for i in range(n)
    ]
    path.write_text(json.dumps(items, indent=2), encoding="utf-8")


def write_zotero_json(path: Path, n: int) -> None:
    items = [
        {
            "key": f"K{i:07d}",
            "version": 1,
            "data": {
                "key": f"K{i:07d}",
                "itemType": "journalArticle",
                "title": _title(i),
                "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"}],
                "date": "2021-03-04",
                "publicationTitle": "Journal of Examples",
                "abstractNote": ABSTRACT,
                "tags": [{"tag": "diffusion"}],
                "extra": f"Citation Key: lovelace{i}",
            },
        }
        for i in range(n)
    ]
    path.write_text(json.dumps(items, indent=4), encoding="utf-8")


def write_digest(path: Path, n: int) -> None:
    chrome = "Get trending papers in your email inbox!\n\nSubscribe\n\nbyAK and the research community\n\n"
    papers = "".join(f"{_title(i).replace(chr(10) + '  ', ' ')}\n\n{ABSTRACT}\n\n" for i in range(n))
    path.write_text(chrome + papers, encoding="utf-8")


def parse_json(path: Path) -> int:
    return len(json.loads(path.read_bytes().decode("utf-8")))


def parse_jsonl(path: Path) -> int:
    return sum(1 for line in path.read_bytes().decode("utf-8").splitlines() if json.loads(line))


def timings(function: Callable[[], object], repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return runs


def report(name: str, count: int, runs: list[float], baseline: list[float] | None) -> None:
    median = statistics.median(runs)
    line = f"{name:<14} {count:>7} refs  median {median * 1000:8.1f} ms  p95 {p95(runs) * 1000:8.1f} ms  "
    line += f"{count / median:>9.0f} refs/s"
    if baseline:
        line += f"   | json parse only: median {statistics.median(baseline) * 1000:7.1f} ms"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="citewise-bench-readers-") as workdir:
        work = Path(workdir)
        files = {
            "arxiv-jsonl": (work / "arxiv.jsonl", write_arxiv_jsonl, parse_jsonl),
            "csl-json": (work / "csl.json", write_csl_json, parse_json),
            "zotero-json": (work / "zotero.json", write_zotero_json, parse_json),
            "digest": (work / "digest.txt", write_digest, None),
        }
        print(f"{args.papers} synthetic papers per format, {args.repeat} runs each")
        for name, (path, write, baseline_parse) in files.items():
            write(path, args.papers)
            result = read_path(path)
            assert not result.errors and len(result.references) == args.papers, (name, result.errors[:3])
            runs = timings(lambda path=path: read_path(path), args.repeat)
            baseline = None
            if baseline_parse:
                baseline = timings(lambda path=path, parse=baseline_parse: parse(path), args.repeat)
            report(name, args.papers, runs, baseline)

    count = len(read_zotero_sqlite(ZOTERO_SQLITE))
    report("zotero.sqlite", count, timings(lambda: read_zotero_sqlite(ZOTERO_SQLITE), args.repeat), None)


if __name__ == "__main__":
    main()
