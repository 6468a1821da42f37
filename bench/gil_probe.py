"""How long a Python thread waits for the GIL inside a server, measured from within it.

Run a server under it: `python bench/gil_probe.py OUT -m citewise serve` (or `OUT script.py`).
A daemon thread sleeps PERIOD_S again and again and notes how late it wakes: once its sleep
ends, the thread must take the GIL back before its next line runs, so its lateness is the
time some other thread held the GIL (a C extension that does not release it, a Python loop
between two switch-interval hand-overs) plus the time the kernel kept it off a CPU. The
second part is measured by the same probe in the floor server, which holds the GIL for
almost nothing, in the same run: the difference is what the server's own threads cost a
thread that wants to run (as the protocol thread does with each request).

Every FLUSH_S the probe appends (wake-up time, lateness) pairs as float64 to OUT; the wake-up
time is `time.perf_counter()`, CLOCK_MONOTONIC on Linux, the clock the benchmark reads too, so
it can cut the record into the windows of its cases (`lateness_between`).
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
from array import array
from pathlib import Path

PERIOD_S = 0.002
FLUSH_S = 0.25


def _probe(out: Path) -> None:
    pending = array("d")
    flushed = time.perf_counter()
    while True:
        asked = time.perf_counter()
        time.sleep(PERIOD_S)
        woke = time.perf_counter()
        pending.extend((woke, woke - asked - PERIOD_S))
        if woke - flushed >= FLUSH_S:
            with out.open("ab") as sink:
                pending.tofile(sink)
            pending = array("d")
            flushed = woke


def lateness_between(out: Path, start: float, end: float) -> list[float]:
    """The probe's wake-up lateness (seconds) recorded between `start` and `end` (perf_counter)."""
    record = array("d")
    record.frombytes(out.read_bytes() if out.exists() else b"")
    return [record[i + 1] for i in range(0, len(record) - 1, 2) if start <= record[i] <= end]


def main() -> None:
    out, target = Path(sys.argv[1]), sys.argv[2:]
    out.write_bytes(b"")
    threading.Thread(target=_probe, args=(out,), name="gil-probe", daemon=True).start()
    if target[0] == "-m":
        sys.argv = [target[1], *target[2:]]
        runpy.run_module(target[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = target
        runpy.run_path(target[0], run_name="__main__")


if __name__ == "__main__":
    main()
