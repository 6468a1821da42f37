"""Language-server benchmark over the wire: what an editor sees from a real `citewise serve` on stdio.

Same workspace and index as bench_lsp.py (a 5,000-entry .bib, an index of 100,000
references; built once and cached by that script). The client is pytest-lsp's, with
VS Code's capabilities.

Figures (median and p95; the `citewise.status` round trip beside them is the baseline:
JSON-RPC, pipes and one worker-thread hop, no feature work):
  initialize    request -> reply (sent once the process has started up), and spawn -> reply
  semantic      initialized -> model progress "end"
  completion    request -> reply inside \\cite{ (and `[@`) in the steady state: once the model is
                loaded and the server reports no background work left (`backgroundWork` of
                `citewise.status`), so that no background case falls in these windows
  suggestions   last keystroke (didChange) -> `citewise/suggestions` notification, minus the debounce
  peak RSS      the server process (VmHWM) once the model is loaded and requests were served
  floor         a minimal pygls server answering 50 fixed items (floor_server.py), driven by the
                same client in the same run: completion p50/p95 as citewise/floor ratios, and
                reply sizes (bytes of the JSON result) beside each other
  background    completion (max and p95) while each kind of background work runs, apart, each
                in a window of its own: the model loading (until its progress ends); .bib
                titles being embedded (until `citewise.status` reports their vectors there); the first reading of a 5 MB .bib
                (a fresh field cache; opening it -> first completion listing its papers too);
                a Zotero sync of 2,000 items from the Zotero test server (tests/zotero_server.py);
                `citewise index add` of 1,000 papers by another process, and the 5 s after it
                (the completion table of the index is rebuilt); and opening the draft -> first
                completion listing the .bib's papers. The first server starts with no .bib title
                vectors kept (a cache directory of its own with a copy of the field cache); a
                second start over the same cache reads them back (bib/index/vector_cache.py)
  GIL wait      a probe thread inside each server (gil_probe.py) sleeps 2 ms again and again and
                notes how late it wakes: the time other threads held the GIL plus the time the
                kernel kept it off a CPU; the floor server's probe in the same run measures the
                latter alone. p50 / p99 / max per case.
Completion runs in a LaTeX draft (`\\cite{`) and a Markdown draft (`[@`) of the same workspace.
The server works on a copy of the cached index (the Zotero sync and `index add` write to it).

Run: .venv/bin/python bench/bench_lsp_protocol.py [--entries 5000] [--papers 100000] [--repeat 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lsprotocol import types  # noqa: E402
from pytest_lsp import client_capabilities, make_test_lsp_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_lsp import build_data, synthetic_reference  # noqa: E402
from gil_probe import lateness_between  # noqa: E402
from timing import peak_rss_mb  # noqa: E402
from zotero_server import ZoteroLibrary, ZoteroTestServer, synthetic_item  # noqa: E402

SERVER = [sys.executable, "-m", "citewise", "serve"]
FLOOR = [sys.executable, str(Path(__file__).resolve().parent / "floor_server.py")]
GIL_PROBE = str(Path(__file__).resolve().parent / "gil_probe.py")
GIL_WINDOWS: list[tuple[str, Path, float, float]] = []  # case, probe record, start, end
SIZES: list[int] = []  # bytes of each completion result, in the order measured
_converter = None
DEBOUNCE_MS = 300
ZOTERO_ITEMS = 2000
SENTENCES = [
    "Graph neural networks learn representations of molecules for property prediction",
    "Retrieval augmented language models answer questions with cited passages",
    "Vision transformers split images into patches and attend across them",
    "Contrastive learning aligns images and captions in one embedding space",
    "Diffusion models generate images by learning to reverse a noising process",
]


def p95(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


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
    the server runs under gil_probe.py, which records into that file.
    """
    if probe is not None:
        command = [command[0], GIL_PROBE, str(probe), *command[1:]]
    client = make_test_lsp_client()
    client.versions = {}
    client.suggestion_times = []
    client.feature("citewise/suggestions")(lambda params: client.suggestion_times.append(time.perf_counter()))
    client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    spawned = time.perf_counter()
    await client.start_io(*command)
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
        timings.append(time.perf_counter() - started)
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


def cold_vectors_cache(workdir: Path) -> str:
    """A cache directory holding a copy of the field cache but no .bib title vectors
    (bib/index/vector_cache.py), so the server embeds the titles as on a first start."""
    from citewise.bib.bibtex.cache import cache_dir

    cache = workdir / "cache"
    cache.mkdir(exist_ok=True)
    fields = cache_dir() / "bibtex-fields.sqlite"
    if fields.exists():
        shutil.copy(fields, cache / fields.name)
    return str(cache)


def five_mb_workspace(folder: Path) -> Path:
    """A folder beside the workspace whose .bib is the workspace's entries again and again
    (keys made distinct) up to 5 MB, and the same draft."""
    large = folder.parent / f"{folder.name}-5mb"
    if not (large / "refs.bib").exists():
        large.mkdir(exist_ok=True)
        text = (folder / "refs.bib").read_text(encoding="utf-8")
        copies = [text]
        while sum(map(len, copies)) < 5_000_000:
            copies.append(re.sub(r"^(@\w+\{[^,]+),", rf"\1x{len(copies)},", text, flags=re.MULTILINE))
        (large / "refs.bib").write_text("\n".join(copies), encoding="utf-8")
        shutil.copy(folder / "paper.tex", large / "paper.tex")
    return large


async def first_reading_of_a_large_bib(folder: Path, index_path: Path, probe: Path) -> None:
    """Open a draft over a 5 MB .bib nobody read before: first useful completion, then
    completions for 10 s while its fields are parsed and its tables built."""
    large = five_mb_workspace(folder)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CITEWISE_CACHE_DIR"] = cache
        try:
            client, _, _ = await start(large, index_path, probe=probe)
            opened = time.perf_counter()
            draft = large / "paper.tex"
            text = draft.read_text(encoding="utf-8")
            size = (large / "refs.bib").stat().st_size / 1e6
            print(f"didOpen -> first completion listing .bib papers, {size:.1f} MB .bib read for the first time"
                  f"  {await first_useful_completion(client, draft.as_uri(), text) * 1000:7.1f} ms")
            until = time.perf_counter() + 10
            timings = await completions_while(client, draft.as_uri(), text, lambda: time.perf_counter() < until)
            print(f"completion, first reading of a {size:.1f} MB .bib (10 s)  {summary(timings)}")
            gil_window(f"first reading of a {size:.1f} MB .bib", probe, opened)
            await stop(client)
        finally:
            del os.environ["CITEWISE_CACHE_DIR"]


def zotero_server(items: int = ZOTERO_ITEMS) -> ZoteroTestServer:
    """The Zotero test server with `items` synthetic items; the server spawned after this call
    syncs from it (the environment names the library and the endpoint)."""
    library = ZoteroLibrary()
    library.add_items([synthetic_item(n) for n in range(items)])
    server = ZoteroTestServer(library)
    server.__enter__()
    os.environ.update(CITEWISE_ZOTERO_LIBRARY="users/1", CITEWISE_ZOTERO_ENDPOINT=server.url,
                      ZOTERO_API_KEY="bench-not-a-secret")
    return server


async def during_zotero_sync(client, uri: str, text: str, probe: Path) -> None:
    sync = asyncio.ensure_future(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="citewise.syncZotero")))
    started = time.perf_counter()
    timings = await completions_while(client, uri, text, lambda: not sync.done())
    took = time.perf_counter() - started
    result = await sync
    gil_window("Zotero sync", probe, started)
    print(f"completion, Zotero sync of {ZOTERO_ITEMS:,} items ({took:.1f} s: {result})  {summary(timings)}")


async def during_index_add(client, uri: str, text: str, index_path: Path, probe: Path, papers: int = 1000) -> None:
    """Another process adds `papers` new papers (and embeds them) to the index the server reads."""
    import random

    from citewise.bib.bibtex.writer import format_entry

    rng = random.Random(99)
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "new.bib"
        source.write_text("\n".join(format_entry(synthetic_reference(10_000_000 + n, rng)) for n in range(papers)),
                          encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "citewise", "index", "add", str(source), "--index",
                                    str(index_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started = time.perf_counter()
        timings = await completions_while(client, uri, text, lambda: process.poll() is None)
        took = time.perf_counter() - started
        gil_window("index add by another process", probe, started)
        after_until = time.perf_counter() + 5
        after = await completions_while(client, uri, text, lambda: time.perf_counter() < after_until)
        problem = process.stderr.read().decode()[-300:] if process.wait() else ""
    print(f"completion, `index add` of {papers:,} papers by another process ({took:.1f} s{problem})  {summary(timings)}")
    print(f"completion, the 5 s after it (index table rebuilt)  {summary(after)}")


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


def migrate_once(index_path: Path) -> None:
    """Bring the cached index to the current schema, as a user's index is once: the server
    works on a fresh copy each run, which would otherwise migrate on every first completion."""
    from citewise.bib.index.store import Index

    Index.open(index_path, create=False).close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--startups", type=int, default=5, help="server starts timed for initialize")
    args = parser.parse_args()
    folder, cached_index = build_data(args.entries, args.papers)
    migrate_once(cached_index)
    workdir = tempfile.TemporaryDirectory()
    index_path = Path(workdir.name) / cached_index.name
    shutil.copy(cached_index, index_path)
    zotero = zotero_server()
    draft = folder / "paper.tex"
    text = draft.read_text(encoding="utf-8")
    print(f"workspace: {args.entries:,}-entry .bib, index of {args.papers:,} references; {os.cpu_count()} CPUs; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    spawn_times, reply_times = [], []
    for _ in range(args.startups):
        client, spawn, _ = await start(folder, index_path)
        spawn_times.append(spawn)
        await stop(client)
        client, _, reply = await start(folder, index_path, settle_s=3.0)
        reply_times.append(reply)
        await stop(client)
    print(f"initialize, request -> reply  {summary(reply_times)}")
    print(f"initialize, spawn -> reply    {summary(spawn_times)}")

    probe = Path(workdir.name) / "gil-citewise.bin"
    os.environ["CITEWISE_CACHE_DIR"] = cold_vectors_cache(Path(workdir.name))
    client, _, _ = await start(folder, index_path, probe=probe)
    uri = draft.as_uri()
    started = time.perf_counter()
    print(f"didOpen -> first completion listing .bib papers  {await first_useful_completion(client, uri, text) * 1000:7.1f} ms")
    gil_window("opening the draft", probe, started)
    started = time.perf_counter()
    print(f"status, model loading         {summary(await status_round_trips(client, 20))}")
    loading = await completions_while(client, uri, text, lambda: not model_loaded(client))
    print(f"completion, model loading     {summary(loading)}")
    print(f"semantic ranking ready after  {await model_ready(client):7.1f} s")
    gil_window("model loading", probe, started)
    started = time.perf_counter()
    embedding = await completions_until_titles_embedded(client, uri, text)
    print(f"completion, .bib titles embedding ({time.perf_counter() - started:.1f} s)  {summary(embedding)}")
    gil_window(".bib titles embedding", probe, started)
    print(f"background work done after    {await background_done(client):7.1f} s more")
    SIZES.clear()
    started = time.perf_counter()
    latex = await completion_round_trips(client, uri, text, args.repeat)
    gil_window("LaTeX completions, steady state", probe, started)
    latex_sizes = list(SIZES)
    print(f"completion LaTeX, steady state    {summary(latex)}")
    notes = folder / "notes.md"
    notes_text = notes.read_text(encoding="utf-8")
    notes_uri = notes.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=notes_uri, language_id="markdown", version=1, text=notes_text)))
    client.versions[notes_uri] = 1
    await completion_round_trips(client, notes_uri, notes_text, 10, markdown=True)
    print(f"background work done after    {await background_done(client):7.1f} s more (the Markdown draft opened)")
    SIZES.clear()
    started = time.perf_counter()
    markdown = await completion_round_trips(client, notes_uri, notes_text, args.repeat, markdown=True)
    gil_window("Markdown completions, steady state", probe, started)
    markdown_sizes = list(SIZES)
    print(f"completion Markdown, steady state {summary(markdown)}")
    print(f"status round trip (baseline)  {summary(await status_round_trips(client, args.repeat))}")
    started = time.perf_counter()
    latencies = await suggestion_latencies(client, uri, text, max(10, args.repeat // 5))
    print(f"keystroke -> suggestions      {summary(latencies)}   (+ {DEBOUNCE_MS} ms debounce)")
    gil_window("suggestions", probe, started)
    await during_zotero_sync(client, uri, text, probe)
    await during_index_add(client, uri, text, index_path, probe)
    rss = peak_rss_mb(client._server.pid)
    print(f"server peak RSS               {rss} MB (model loaded)")
    await stop(client)
    probe = Path(workdir.name) / "gil-next-start.bin"
    client, _, _ = await start(folder, index_path, probe=probe)  # the same cache: the titles' vectors kept
    await first_useful_completion(client, uri, text)
    await model_ready(client)
    started = time.perf_counter()
    warm = await completions_until_titles_embedded(client, uri, text)
    print(f"completion, the next start: .bib titles' vectors read back ({time.perf_counter() - started:.1f} s)  "
          f"{summary(warm)}")
    gil_window(".bib titles read back", probe, started)
    await stop(client)
    del os.environ["CITEWISE_CACHE_DIR"]
    await first_reading_of_a_large_bib(folder, index_path, Path(workdir.name) / "gil-large.bin")

    floor_probe = Path(workdir.name) / "gil-floor.bin"
    floor_client, _, _ = await start(folder, index_path, command=FLOOR, probe=floor_probe)
    floor_client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="latex", version=1, text=text)))
    floor_client.versions[uri] = 1
    await completion_round_trips(floor_client, uri, text, 10)
    SIZES.clear()
    started = time.perf_counter()
    floor = await completion_round_trips(floor_client, uri, text, args.repeat)
    gil_window("floor server, completions (baseline)", floor_probe, started)
    floor_sizes = list(SIZES)
    floor_rss = peak_rss_mb(floor_client._server.pid)
    await stop(floor_client)
    print(f"floor: pygls, 50 fixed items  {summary(floor)}")
    for name, timings, sizes in (("LaTeX", latex, latex_sizes), ("Markdown", markdown, markdown_sizes)):
        print(f"citewise/floor {name:8s}  p50 x{statistics.median(timings) / statistics.median(floor):5.1f}   "
              f"p95 x{p95(timings) / p95(floor):5.1f}   reply {statistics.median(sizes) / 1000:5.1f} KB "
              f"(max {max(sizes) / 1000:5.1f} KB) vs {statistics.median(floor_sizes) / 1000:4.1f} KB")
    print_gil_waits()
    print(f"peak RSS citewise {rss} MB, floor {floor_rss} MB; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    workdir.cleanup()
    zotero.__exit__(None, None, None)


if __name__ == "__main__":
    asyncio.run(main())
