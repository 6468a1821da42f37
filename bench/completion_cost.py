"""What one steady-state completion costs the server in CPU, thread by thread, beside the floor.

Wall-clock maxima on a shared two-core machine say more about the machine than about the
server; the CPU a server's threads spend per request does not move with the load. This
drives `citewise serve` and the floor server (floor_server.py) through the same client as
bench_lsp_protocol.py (lsp_client.py), on the same workspace, and reads each thread's CPU
time (`/proc/PID/task/TID/schedstat`, nanoseconds) around a run of completions, after
`\\cite{` and `[@` + 0-3 letters as the protocol benchmark types them. It prints, per
completion: the client's wall time (median / p95), the server's CPU by thread (the asyncio
loop is `MainThread`: JSON, pygls, conversion; `citewise-features` runs the features call),
and the reply's bytes.

Each server runs under this script's `--named` mode, which gives every Python thread its name
at the OS level (prctl PR_SET_NAME, 15 characters), so that /proc tells the threads apart.

Run: PYTHONPATH=$PWD/build/tree .venv/bin/python bench/completion_cost.py [--repeat 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lsprotocol import types  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lsp import build_data  # noqa: E402
from lsp_client import (  # noqa: E402
    FLOOR,
    SERVER,
    SIZES,
    background_done,
    completion_round_trips,
    completions_until_titles_embedded,
    first_useful_completion,
    model_ready,
    p95,
    start,
    stop,
)


def run_named(argv: list[str]) -> None:
    """Run `python -m MODULE ...` or `python SCRIPT ...` with OS thread names set from Python's."""
    import ctypes
    import threading

    from gil_probe import run_command

    libc = ctypes.CDLL(None)
    bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named(self: threading.Thread) -> None:
        libc.prctl(15, self.name[:15].encode(), 0, 0, 0)  # PR_SET_NAME
        bootstrap(self)

    threading.Thread._bootstrap_inner = named  # type: ignore[attr-defined]
    if os.environ.get("COMPLETION_COST_PROFILE"):  # the asyncio loop's thread under cProfile, dumped on SIGUSR1
        import cProfile
        import signal

        profile = cProfile.Profile(time.thread_time)

        def dump(*_: object) -> None:
            profile.disable()
            profile.dump_stats(os.environ["COMPLETION_COST_PROFILE"])

        signal.signal(signal.SIGUSR1, dump)
        profile.enable()
    run_command(argv)


def named(command: list[str]) -> list[str]:
    return [command[0], str(Path(__file__).resolve()), "--named", *command[1:]]


def thread_cpu(pid: int) -> dict[str, float]:
    """Seconds of CPU each thread of `pid` has run, by thread name (names summed)."""
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ran_ns = int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[name] = found.get(name, 0.0) + ran_ns / 1e9
    return found


async def measure(client, uri: str, text: str, repeat: int, markdown: bool) -> tuple[list[float], dict[str, float], list[int]]:
    """Completion wall times, CPU per completion by thread (ms), reply bytes."""
    pid = client._server.pid
    SIZES.clear()
    before = thread_cpu(pid)
    timings = await completion_round_trips(client, uri, text, repeat, markdown=markdown)
    after = thread_cpu(pid)
    per_thread = {name: (after[name] - before.get(name, 0.0)) * 1000 / repeat for name in after}
    return timings, per_thread, list(SIZES)


def report(label: str, timings: list[float], per_thread: dict[str, float], sizes: list[int]) -> None:
    busy = sorted(((ms, name) for name, ms in per_thread.items() if ms >= 0.05), reverse=True)
    threads = ", ".join(f"{name} {ms:.2f}" for ms, name in busy)
    print(f"{label:18s} wall {statistics.median(timings) * 1000:6.2f} / {p95(timings) * 1000:6.2f} ms   "
          f"CPU {sum(per_thread.values()):6.2f} ms ({threads})   reply {statistics.median(sizes) / 1000:5.1f} KB")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per draft, alternating with the floor")
    parser.add_argument("--no-model", action="store_true", help="measure before the model loads")
    args = parser.parse_args()
    folder, cached_index = build_data(5000, 100_000)
    with tempfile.TemporaryDirectory() as workdir:
        index_path = Path(workdir) / cached_index.name
        shutil.copy(cached_index, index_path)
        draft, notes = folder / "paper.tex", folder / "notes.md"
        text, notes_text = draft.read_text(encoding="utf-8"), notes.read_text(encoding="utf-8")
        client, _, _ = await start(folder, index_path, command=named(SERVER))
        await first_useful_completion(client, draft.as_uri(), text)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=notes.as_uri(), language_id="markdown", version=1, text=notes_text)))
        client.versions[notes.as_uri()] = 1
        if not args.no_model:
            await model_ready(client)
        await completion_round_trips(client, draft.as_uri(), text, 20)
        await completion_round_trips(client, notes.as_uri(), notes_text, 20, markdown=True)
        if not args.no_model:  # the .bib's titles embedded (or read back from the cache), as in the steady state
            await completions_until_titles_embedded(client, draft.as_uri(), text)
        await background_done(client)
        floor, _, _ = await start(folder, index_path, command=named(FLOOR))
        floor.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=draft.as_uri(), language_id="latex", version=1, text=text)))
        floor.versions[draft.as_uri()] = 1
        await completion_round_trips(floor, draft.as_uri(), text, 20)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; per completion, median / p95; CPU ms by thread")
        started = time.perf_counter()
        for _ in range(args.rounds):
            report("floor", *await measure(floor, draft.as_uri(), text, args.repeat, False))
            report("citewise LaTeX", *await measure(client, draft.as_uri(), text, args.repeat, False))
            report("citewise Markdown", *await measure(client, notes.as_uri(), notes_text, args.repeat, True))
        print(f"({time.perf_counter() - started:.0f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        await stop(floor)
        await stop(client)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--named"]:
        run_named(sys.argv[2:])
    else:
        asyncio.run(main())
