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

With GIL_PROBE_STALLS=FILE in the environment, the probe also says *what* held the GIL: it keeps
`faulthandler.dump_traceback_later(STALL_S)` armed, re-arming it every ARM_EVERY_S. The dump is
written by faulthandler's own C thread, which needs no GIL, so when the probe has not run for
STALL_S it prints every thread's Python stack in the middle of the stall; once the probe runs
again it appends `=== stall ends WOKE, LATE ms late, CPU ms of the process` (perf_counter, the
benchmark's clock), which `stalls_between` uses to cut the dumps into the cases' windows. The
process's CPU time across the stall tells a thread holding the GIL (CPU ≈ the stall) from the
kernel keeping the process off the CPUs on a loaded machine (CPU ≈ 0; faulthandler's thread is
then often late too, and no stack is printed). Garbage collections of 5 ms or more are noted
there too (`=== gc generation N, MS ms, ends WOKE`, from `gc.callbacks`): the stack of a
collection shows only the line whose allocation triggered it.

With GIL_PROBE_BUSY=FILE, the probe says what the threads a request passes through were doing:
every BUSY_EVERY_S it samples the stacks of the features thread (`citewise-features`) and the
protocol thread (the main thread, running the asyncio loop) and appends a line per busy one (not
waiting for a job, not in the loop's `select`): `WOKE<TAB>THREAD<TAB>innermost frame < caller < ...`.
`busy_between` counts those samples over a window, so a slow completion's time can be put on
the job it queued behind: a thread that runs no Python (waiting for a lock or a core) is not sampled.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import runpy
import sys
import threading
import time
from array import array
from collections import Counter
from pathlib import Path

PERIOD_S = 0.002
FLUSH_S = 0.25
STALL_S = 0.08
ARM_EVERY_S = 0.01
BUSY_EVERY_S = 0.005
BUSY_THREADS = {"citewise-features": "features", "MainThread": "protocol"}
IDLE_FRAMES = {"_work", "select"}  # a lane waiting for its next job; the loop waiting for input
STACK_DEPTH = 8


def _probe(out: Path) -> None:
    pending = array("d")
    flushed = armed = time.perf_counter()
    stalls = open(os.environ["GIL_PROBE_STALLS"], "a") if os.environ.get("GIL_PROBE_STALLS") else None  # noqa: SIM115 (open as long as the probe)
    if stalls is not None:
        gc.callbacks.append(_collection_timer(stalls))
    busy = open(os.environ["GIL_PROBE_BUSY"], "a") if os.environ.get("GIL_PROBE_BUSY") else None  # noqa: SIM115 (open as long as the probe)
    sampled = 0.0
    while True:
        asked, cpu = time.perf_counter(), time.process_time()
        if busy is not None and asked - sampled >= BUSY_EVERY_S:
            _sample_busy_threads(busy, asked)
            sampled = asked
        if stalls is not None and asked - armed >= ARM_EVERY_S:
            faulthandler.dump_traceback_later(STALL_S, file=stalls)
            armed = asked
        time.sleep(PERIOD_S)
        woke = time.perf_counter()
        if stalls is not None and woke - armed >= STALL_S:
            stalls.write(f"=== stall ends {woke:.6f}, {(woke - asked - PERIOD_S) * 1000:.1f} ms late, "
                         f"{(time.process_time() - cpu) * 1000:.0f} ms CPU\n")
            stalls.flush()
            faulthandler.dump_traceback_later(STALL_S, file=stalls)
            armed = woke
        pending.extend((woke, woke - asked - PERIOD_S))
        if woke - flushed >= FLUSH_S:
            with out.open("ab") as sink:
                pending.tofile(sink)
            pending = array("d")
            flushed = woke


def _sample_busy_threads(busy, now: float) -> None:
    names = {thread.ident: BUSY_THREADS[thread.name] for thread in threading.enumerate() if thread.name in BUSY_THREADS}
    for ident, frame in sys._current_frames().items():
        if ident not in names or frame.f_code.co_name in IDLE_FRAMES:
            continue
        stack = []
        while frame is not None and len(stack) < STACK_DEPTH:
            stack.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}")
            frame = frame.f_back
        busy.write(f"{now:.6f}\t{names[ident]}\t{' < '.join(stack)}\n")
    busy.flush()


def busy_between(busy: Path, start: float, end: float) -> Counter[str]:
    """How many samples (GIL_PROBE_BUSY) found each thread in each stack between `start` and `end`."""
    found: Counter[str] = Counter()
    for line in (busy.read_text(errors="replace") if busy.exists() else "").splitlines():
        woke, thread, stack = line.split("\t", 2)
        if start <= float(woke) <= end:
            found[f"{thread}: {stack}"] += 1
    return found


def lateness_between(out: Path, start: float, end: float) -> list[float]:
    """The probe's wake-up lateness (seconds) recorded between `start` and `end` (perf_counter)."""
    record = array("d")
    record.frombytes(out.read_bytes() if out.exists() else b"")
    return [record[i + 1] for i in range(0, len(record) - 1, 2) if start <= record[i] <= end]


def _collection_timer(stalls):
    started = [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif (took := time.perf_counter() - started[0]) >= 0.005:
            stalls.write(f"=== gc generation {info['generation']}, {took * 1000:.1f} ms, ends {time.perf_counter():.6f}\n")
            stalls.flush()

    return timer


def stalls_between(stalls: Path, start: float, end: float) -> list[str]:
    """The stack dumps (GIL_PROBE_STALLS) of the stalls that ended between `start` and `end`."""
    found, dump = [], []
    for line in (stalls.read_text(errors="replace") if stalls.exists() else "").splitlines():
        if line.startswith("=== gc "):
            if start <= float(line.rsplit(" ", 1)[1]) <= end:
                found.append(line)
        elif line.startswith("=== stall ends "):
            woke = float(line.split()[3].rstrip(","))
            if start <= woke <= end:
                found.append("\n".join([*dump, line]))
            dump = []
        else:
            dump.append(line)
    return found


def main() -> None:
    out, target = Path(sys.argv[1]), sys.argv[2:]
    out.write_bytes(b"")
    threading.Thread(target=_probe, args=(out,), name="gil-probe", daemon=True).start()
    run_command(target)


def run_command(argv: list[str]) -> None:
    """Run `argv` (`-m module ...` or `script.py ...`) in this process, as `python argv` would."""
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
