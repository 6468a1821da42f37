"""The client's side of the language-server benchmark (bench_lsp_protocol.py): a pytest-lsp
client with VS Code's capabilities driving `citewise serve` (or the floor server) over stdio,
and the timed steps it takes (completions, suggestions, status round trips, waits for the
server's background work).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gil_probe import busy_between, lateness_between, stalls_between  # noqa: E402
from timing import p95  # noqa: E402

SERVER = [sys.executable, "-m", "citewise", "serve"]
FLOOR = [sys.executable, str(Path(__file__).resolve().parent / "floor_server.py")]
GIL_PROBE = str(Path(__file__).resolve().parent / "gil_probe.py")
GIL_WINDOWS: list[tuple[str, Path, float, float]] = []  # case, probe record, start, end
STALL_DUMPS = os.environ.get("CITEWISE_BENCH_STALLS") == "1"  # gil_probe.py's stack dumps, printed per case
BUSY_SAMPLES = os.environ.get("CITEWISE_BENCH_BUSY") == "1"  # gil_probe.py's samples of busy threads, per slow completion
SLOW_S = 0.1  # a completion this slow breaks the limit while background work runs
SLOW_COMPLETIONS: list[tuple[float, float]] = []  # (sent, answered) of each completion over SLOW_S
SIZES: list[int] = []  # bytes of each completion result, in the order measured
_converter = None
DEBOUNCE_MS = 300
SENTENCES = [
    "Graph neural networks learn representations of molecules for property prediction",
    "Retrieval augmented language models answer questions with cited passages",
    "Vision transformers split images into patches and attend across them",
    "Contrastive learning aligns images and captions in one embedding space",
    "Diffusion models generate images by learning to reverse a noising process",
]


def summary(seconds: list[float]) -> str:
    return (f"median {statistics.median(seconds) * 1000:7.1f} ms   p95 {p95(seconds) * 1000:7.1f} ms   "
            f"max {max(seconds) * 1000:7.1f} ms   (n={len(seconds)})")


def reply_bytes(result: object) -> int:
    global _converter
    if _converter is None:
        from pygls.protocol import default_converter

        _converter = default_converter()
    return len(json.dumps(_converter.unstructure(result)).encode())


async def start(folder: Path, index_path: Path, settle_s: float = 0.0, command: list[str] = SERVER,
                probe: Path | None = None):
    """A client with a running, initialized server; (client, spawn->reply, request->reply).

    With `settle_s` the initialize request waits that long after the spawn, so that the
    request -> reply time excludes the interpreter's start-up and imports. With `probe`
    the server runs under gil_probe.py, which records into that file (and, with
    CITEWISE_BENCH_STALLS=1, dumps the stacks of its stalls beside it: `print_stalls`; with
    CITEWISE_BENCH_BUSY=1, samples what its features and protocol threads run: `print_busy`).
    """
    env = dict(os.environ)
    if probe is not None:
        command = [command[0], GIL_PROBE, str(probe), *command[1:]]
        if STALL_DUMPS:
            env["GIL_PROBE_STALLS"] = str(probe.with_suffix(".stalls"))
        if BUSY_SAMPLES:
            env["GIL_PROBE_BUSY"] = str(probe.with_suffix(".busy"))
    client = make_test_lsp_client()
    client.versions = {}
    client.suggestion_times = []
    client.feature("citewise/suggestions")(lambda params: client.suggestion_times.append(time.perf_counter()))
    client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    spawned = time.perf_counter()
    await client.start_io(*command, env=env)
    await asyncio.sleep(settle_s)
    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=folder.as_uri(),
        initialization_options={"indexPath": str(index_path), "debounceMs": DEBOUNCE_MS},
    )
    asked = time.perf_counter()
    await client.initialize_session(params)
    answered = time.perf_counter()
    client.initialized_at = answered
    return client, answered - spawned, answered - asked


def gil_window(case: str, probe: Path, start: float) -> None:
    """Note that `case` ran from `start` until now, for the GIL wait table."""
    GIL_WINDOWS.append((case, probe, start, time.perf_counter()))


def print_gil_waits() -> None:
    print("GIL wait (probe lateness, ms)          p50      p99      max      n")
    for case, probe, start, end in GIL_WINDOWS:
        late = sorted(lateness_between(probe, start, end))
        if late:
            p99 = late[min(len(late) - 1, int(0.99 * len(late)))]
            print(f"  {case:36s} {statistics.median(late) * 1000:7.2f}  {p99 * 1000:7.2f}  {late[-1] * 1000:7.1f}  {len(late):5d}")


def print_stalls() -> None:
    """Each case's stalls (GIL_PROBE_STALLS): every thread's stack while the probe waited."""
    for case, probe, start, end in GIL_WINDOWS:
        for dump in stalls_between(probe.with_suffix(".stalls"), start, end):
            print(f"--- stall in {case}\n{dump}")


def print_busy(top: int = 4) -> None:
    """For each completion over SLOW_S, what the server's features and protocol threads ran
    meanwhile (GIL_PROBE_BUSY): the most sampled stacks, a sample every 5 ms."""
    for sent, answered in SLOW_COMPLETIONS:
        for case, probe, start, end in GIL_WINDOWS:
            if start <= sent <= end:
                samples = busy_between(probe.with_suffix(".busy"), sent, answered)
                print(f"--- completion of {(answered - sent) * 1000:.0f} ms in {case}: {sum(samples.values())} busy samples")
                for stack, count in samples.most_common(top):
                    print(f"  {count:4d}  {stack}")


async def stop(client) -> None:
    await client.shutdown_session()
    await client.stop()


async def status_round_trips(client, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="citewise.status"))
        timings.append(time.perf_counter() - started)
    return timings


async def completion_round_trips(client, uri: str, text: str, repeat: int, markdown: bool = False,
                                 first: int = 0) -> list[float]:
    """Completion after `\\cite{` (or `[@`) + a typed prefix, at the end of the draft's first line of prose."""
    lines = text.split("\n")
    if markdown:  # the first line of prose, after the YAML header
        line = next(n for n, content in enumerate(lines) if n > 0 and "[@" in content)
    else:
        line = lines.index("\\begin{document}") + 1
    column = len(lines[line])
    opener, closer = ("[@", "]") if markdown else ("\\cite{", "}")
    prefixes = ["", "gr", "trans", "neur", "lea", "vis", "20", "att"]
    timings = []
    for number in range(first, first + repeat):
        prefix = prefixes[number % len(prefixes)]
        typed = f" {opener}{prefix}{closer}"
        edit(client, uri, client.versions.get(uri, 1) + 1, line, column, typed)
        position = types.Position(line=line, character=column + len(opener) + 1 + len(prefix))
        started = time.perf_counter()
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position))
        answered = time.perf_counter()
        timings.append(answered - started)
        if answered - started > SLOW_S:
            SLOW_COMPLETIONS.append((started, answered))
        SIZES.append(reply_bytes(result))
        undo(client, uri, client.versions[uri] + 1, line, column, len(typed))
    return timings


async def completions_while(client, uri: str, text: str, busy, at_least: int = 5, limit_s: float = 300) -> list[float]:
    """Completion round trips one after another while `busy()` is true (at least `at_least`)."""
    timings: list[float] = []
    started = time.perf_counter()
    while (busy() or len(timings) < at_least) and time.perf_counter() - started < limit_s:
        timings += await completion_round_trips(client, uri, text, 1, first=len(timings))
        await asyncio.sleep(0.02)  # a fast typist: 50 keystrokes a second
    return timings


async def completions_until_titles_embedded(client, uri: str, text: str, limit_s: float = 900) -> list[float]:
    """Completion round trips until the server reports every .bib's title vectors there
    (`citewise.status`, asked every 0.2 s beside them; at most `limit_s`); at least 5, which
    also start the work (the titles are embedded once a completion asks for them after the
    model loaded and the .bib's full table is built)."""
    embedded = False

    async def watch() -> None:
        nonlocal embedded
        while not embedded:
            await asyncio.sleep(0.2)
            status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="citewise.status"))
            embedded = all(bib["titlesEmbedded"] for bib in status["bibFiles"])

    timings = await completion_round_trips(client, uri, text, 5)
    watcher = asyncio.ensure_future(watch())
    timings += await completions_while(client, uri, text, lambda: not embedded, at_least=0, limit_s=limit_s)
    if not embedded:
        print(f"  (titles not embedded after {limit_s:.0f} s)")
    embedded = True
    await watcher
    return timings


async def background_work(client) -> list[str]:
    """The server's background lanes with work under way (`citewise.status`)."""
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="citewise.status"))
    return status["backgroundWork"]


async def background_done(client, limit_s: float = 900) -> float:
    """Wait until the server has no background work left (the steady state the ratio windows
    measure); the seconds waited."""
    started = time.perf_counter()
    while (work := await background_work(client)) and time.perf_counter() - started < limit_s:
        await asyncio.sleep(0.2)
    if work:
        print(f"  (still busy after {limit_s:.0f} s: {', '.join(work)})")
    return time.perf_counter() - started


async def first_useful_completion(client, uri: str, text: str) -> float:
    """Seconds from didOpen to the first completion reply that lists the .bib's papers."""
    line = text.split("\n").index("\\begin{document}") + 1
    column = len(text.split("\n")[line])
    opened = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="latex", version=1, text=text)))
    client.versions[uri] = 1
    edit(client, uri, 2, line, column, " \\cite{gr}")
    position = types.Position(line=line, character=column + len(" \\cite{gr"))
    while True:
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position))
        if result is not None and result.items:
            return time.perf_counter() - opened


async def suggestion_latencies(client, uri: str, text: str, repeat: int) -> list[float]:
    """From the didChange that finishes a sentence to the notification, minus the debounce."""
    line = text.split("\n").index("\\begin{document}") + 1
    column = len(text.split("\n")[line])
    timings = []
    for number in range(repeat):
        sentence = f" {SENTENCES[number % len(SENTENCES)]} in setting {number}."
        before = len(client.suggestion_times)
        edit(client, uri, 50_000 + 2 * number, line, column, sentence)
        typed = time.perf_counter()
        while len(client.suggestion_times) == before and time.perf_counter() - typed < 10:
            await asyncio.sleep(0.002)
        if len(client.suggestion_times) > before:
            timings.append(client.suggestion_times[-1] - typed - DEBOUNCE_MS / 1000)
        undo(client, uri, 50_001 + 2 * number, line, column, len(sentence))
    return timings


def edit(client, uri: str, version: int, line: int, column: int, text: str) -> None:
    client.versions[uri] = version
    position = types.Position(line=line, character=column)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=position, end=position), text=text)]))


def undo(client, uri: str, version: int, line: int, column: int, length: int) -> None:
    client.versions[uri] = version
    start, end = types.Position(line=line, character=column), types.Position(line=line, character=column + length)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text="")]))


def model_loaded(client) -> bool:
    return any(reports and reports[-1].kind == "end" for reports in client.progress_reports.values())


async def model_ready(client) -> float:
    """Seconds from the initialize reply to the end of the model-loading progress."""
    while not model_loaded(client):
        await asyncio.sleep(0.05)
    return time.perf_counter() - client.initialized_at
