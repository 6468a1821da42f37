"""Language-server benchmark over the wire: what an editor sees from a real `citewise serve` on stdio.

The client and its timed steps are in lsp_client.py. Same workspace and index as bench_lsp.py (a 5,000-entry .bib, an index of 100,000
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
                latter alone. p50 / p99 / max per case. With CITEWISE_BENCH_STALLS=1 the probe also
                dumps every thread's stack during each stall over 80 ms, printed per case at the end;
                with CITEWISE_BENCH_BUSY=1, what the features and protocol threads ran during each
                completion over 100 ms (the stacks sampled most, one sample every 5 ms).
Completion runs in a LaTeX draft (`\\cite{`) and a Markdown draft (`[@`) of the same workspace.
The server works on a copy of the cached index (the Zotero sync and `index add` write to it).

Run: .venv/bin/python bench/bench_lsp_protocol.py [--entries 5000] [--papers 100000] [--repeat 100]
"""

from __future__ import annotations

import argparse
import asyncio
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_lsp import build_data, synthetic_reference  # noqa: E402
from lsp_client import (  # noqa: E402
    DEBOUNCE_MS,
    FLOOR,
    SIZES,
    background_done,
    completion_round_trips,
    completions_until_titles_embedded,
    completions_while,
    first_useful_completion,
    gil_window,
    model_loaded,
    model_ready,
    p95,
    print_busy,
    print_gil_waits,
    print_stalls,
    start,
    status_round_trips,
    stop,
    suggestion_latencies,
    summary,
)
from timing import peak_rss_mb  # noqa: E402
from zotero_server import ZoteroLibrary, ZoteroTestServer, synthetic_item  # noqa: E402

ZOTERO_ITEMS = 2000


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
    print_stalls()
    print_busy()
    print(f"peak RSS citewise {rss} MB, floor {floor_rss} MB; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    workdir.cleanup()
    zotero.__exit__(None, None, None)


if __name__ == "__main__":
    asyncio.run(main())
