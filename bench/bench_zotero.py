"""Zotero sync speed against the test server with a synthetic 10,000-item library.

Prints, as median and p95 over repeated runs:
- first sync into an empty index (time, requests), beside a baseline: pyzotero paging through
  every item (`everything(top())`, limit 100) with no index work;
- incremental sync after 10 items changed (time, requests), beside a baseline: a sync when
  nothing changed.
Run: .venv/bin/python bench/bench_zotero.py [--items N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from timing import p95  # noqa: E402
from zotero_server import ZoteroLibrary, ZoteroTestServer, synthetic_item  # noqa: E402

from citewise.bib.index.store import Index  # noqa: E402
from citewise.bib.zotero.client import ZoteroConnection, ZoteroSettings  # noqa: E402
from citewise.bib.zotero.sync import sync_library  # noqa: E402


def report(name: str, seconds: list[float], requests: list[int]) -> None:
    print(f"{name:<44} median {statistics.median(seconds) * 1000:9.1f} ms   "
          f"p95 {p95(seconds) * 1000:9.1f} ms   requests {statistics.median(requests):g}"
          f"   (n={len(seconds)})")


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def first_syncs(settings: ZoteroSettings, workdir: Path, repeats: int) -> None:
    seconds, requests = [], []
    for run in range(repeats):
        with Index.open(workdir / f"first-{run}.sqlite") as index:
            elapsed, summary = timed(lambda: sync_library(index, settings))
        seconds.append(elapsed)
        requests.append(summary.requests)
    report("first sync (versions + itemKey batches)", seconds, requests)

    seconds, requests = [], []
    for _ in range(repeats):
        with ZoteroConnection(settings) as connection:
            elapsed, _ = timed(lambda: connection.call(lambda z: z.everything(z.top(limit=100))))
            seconds.append(elapsed)
            requests.append(connection.requests)
    report("baseline: pyzotero everything(top()), no index", seconds, requests)


def incremental_syncs(library: ZoteroLibrary, settings: ZoteroSettings, workdir: Path, repeats: int) -> None:
    keys = sorted(library.items)
    with Index.open(workdir / "incremental.sqlite") as index:
        sync_library(index, settings)
        changed_seconds, changed_requests, idle_seconds, idle_requests = [], [], [], []
        for run in range(repeats):
            for key in keys[run * 10:(run + 1) * 10]:
                library.update_item(key, title=f"{library.items[key]['title']} (revised {run})")
            elapsed, summary = timed(lambda: sync_library(index, settings))
            assert summary.updated == 10, summary
            changed_seconds.append(elapsed)
            changed_requests.append(summary.requests)
            elapsed, summary = timed(lambda: sync_library(index, settings))
            idle_seconds.append(elapsed)
            idle_requests.append(summary.requests)
    report("incremental sync, 10 items changed", changed_seconds, changed_requests)
    report("baseline: incremental sync, nothing changed", idle_seconds, idle_requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="first syncs (incremental: 10x this)")
    args = parser.parse_args()
    library = ZoteroLibrary()
    for start in range(0, args.items, 1000):
        library.add_items([synthetic_item(n) for n in range(start, min(start + 1000, args.items))])
    print(f"Zotero sync, synthetic library of {len(library.items)} items, test server on 127.0.0.1")
    with ZoteroTestServer(library) as server, tempfile.TemporaryDirectory() as workdir:
        settings = ZoteroSettings(library="users/1", endpoint=server.url)
        first_syncs(settings, Path(workdir), args.repeats)
        incremental_syncs(library, settings, Path(workdir), args.repeats * 10)


if __name__ == "__main__":
    main()
