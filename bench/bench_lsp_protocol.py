"""Language-server benchmark over the wire: what an editor sees from a real `citewise serve` on stdio.

Same workspace and index as bench_lsp.py (a 5,000-entry .bib, an index of 100,000
references; built once and cached by that script). The client is pytest-lsp's, with
VS Code's capabilities.

Figures (median and p95; the `citewise.status` round trip beside them is the baseline:
JSON-RPC, pipes and one worker-thread hop, no feature work):
  initialize    request -> reply (sent once the process has started up), and spawn -> reply
  semantic      initialized -> model progress "end"
  completion    request -> reply inside \\cite{, before and after the model is ready
  suggestions   last keystroke (didChange) -> `citewise/suggestions` notification, minus the debounce
  peak RSS      the server process (VmHWM) once the model is loaded and requests were served

Run: .venv/bin/python bench/bench_lsp_protocol.py [--entries 5000] [--papers 100000] [--repeat 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from lsprotocol import types  # noqa: E402
from pytest_lsp import client_capabilities, make_test_lsp_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lsp import build_data  # noqa: E402
from timing import peak_rss_mb  # noqa: E402

SERVER = [sys.executable, "-m", "citewise", "serve"]
DEBOUNCE_MS = 300
SENTENCES = [
    "Graph neural networks learn representations of molecules for property prediction",
    "Retrieval augmented language models answer questions with cited passages",
    "Vision transformers split images into patches and attend across them",
    "Contrastive learning aligns images and captions in one embedding space",
    "Diffusion models generate images by learning to reverse a noising process",
]


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(ordered)})"


async def start(folder: Path, index_path: Path, settle_s: float = 0.0):
    """A client with a running, initialized server; (client, spawn->reply, request->reply).

    With `settle_s` the initialize request waits that long after the spawn, so that the
    request -> reply time excludes the interpreter's start-up and imports.
    """
    client = make_test_lsp_client()
    client.suggestion_times = []
    client.feature("citewise/suggestions")(lambda params: client.suggestion_times.append(time.perf_counter()))
    client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    spawned = time.perf_counter()
    await client.start_io(*SERVER)
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


async def completion_round_trips(client, uri: str, text: str, repeat: int) -> list[float]:
    """Completion after `\\cite{` + a typed prefix, at the end of the draft's first line of prose."""
    line = text.split("\n").index("\\begin{document}") + 1
    column = len(text.split("\n")[line])
    prefixes = ["", "gr", "trans", "neur", "lea", "vis", "20", "att"]
    timings = []
    for number in range(repeat):
        prefix = prefixes[number % len(prefixes)]
        edit(client, uri, 10_000 + 2 * number, line, column, f" \\cite{{{prefix}}}")
        position = types.Position(line=line, character=column + len(" \\cite{") + len(prefix))
        started = time.perf_counter()
        await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position))
        timings.append(time.perf_counter() - started)
        undo(client, uri, 10_001 + 2 * number, line, column, len(f" \\cite{{{prefix}}}"))
    return timings


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
    position = types.Position(line=line, character=column)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=position, end=position), text=text)]))


def undo(client, uri: str, version: int, line: int, column: int, length: int) -> None:
    start, end = types.Position(line=line, character=column), types.Position(line=line, character=column + length)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text="")]))


async def model_ready(client) -> float:
    """Seconds from the initialize reply to the end of the model-loading progress."""
    while not any(reports and reports[-1].kind == "end" for reports in client.progress_reports.values()):
        await asyncio.sleep(0.05)
    return time.perf_counter() - client.initialized_at


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    folder, index_path = build_data(args.entries, args.papers)
    draft = folder / "paper.tex"
    text = draft.read_text(encoding="utf-8")
    print(f"workspace: {args.entries:,}-entry .bib, index of {args.papers:,} references; {os.cpu_count()} CPUs")

    spawn_times, reply_times = [], []
    for _ in range(5):
        client, spawn, _ = await start(folder, index_path)
        spawn_times.append(spawn)
        await stop(client)
        client, _, reply = await start(folder, index_path, settle_s=3.0)
        reply_times.append(reply)
        await stop(client)
    print(f"initialize, request -> reply  {summary(reply_times)}")
    print(f"initialize, spawn -> reply    {summary(spawn_times)}")

    client, _, _ = await start(folder, index_path)
    uri = draft.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="latex", version=1, text=text)))
    print(f"status, model loading         {summary(await status_round_trips(client, 20))}")
    print(f"completion, model loading     {summary(await completion_round_trips(client, uri, text, 20))}")
    print(f"semantic ranking ready after  {await model_ready(client):7.1f} s")
    await completion_round_trips(client, uri, text, 10)
    print(f"completion, model ready       {summary(await completion_round_trips(client, uri, text, args.repeat))}")
    print(f"status round trip (baseline)  {summary(await status_round_trips(client, args.repeat))}")
    latencies = await suggestion_latencies(client, uri, text, max(10, args.repeat // 5))
    print(f"keystroke -> suggestions      {summary(latencies)}   (+ {DEBOUNCE_MS} ms debounce)")
    print(f"server peak RSS               {peak_rss_mb(client._server.pid)} MB (model loaded)")
    await stop(client)


if __name__ == "__main__":
    asyncio.run(main())
