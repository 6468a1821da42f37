"""Speed of the ranking in a real `citewise serve`, for bench_suggestions.py: the workspace of
bench_lsp.py (a draft citing from a synthetic 5,000-entry .bib) over an index of 101,000
references (bench_search.py's cached 100,000 synthetic papers with random unit vectors, plus
the 1,000 .bib entries also in the index), driven over stdio by bench_lsp_protocol.py's client.

Figures (median, p95, max), beside the `citewise.status` round trip as the baseline:
  keystroke -> suggestions   the didChange that finishes a sentence -> `citewise/suggestions`,
                             minus the debounce (each sentence new: no cache hit)
  completion                 `\\cite{` and `[@` + a prefix, with the model ready
  server CPU                 the server process's CPU time (/proc utime + stime) per request, mean:
                             what the wall-clock figures cost when the machine is not shared
  peak RSS                   the server process (VmHWM) after all of it

Run alone (bench_suggestions.py runs it after the quality figures):
    nice -n 10 .venv/bin/python bench/suggestion_speed.py [--repeat 60] [--cold]
`--cold` gives the server an empty cache directory: a first start, which parses the .bib and
embeds its 5,000 titles while the suggestions are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
from bench_lsp import CACHE, _markdown_draft, synthetic_reference
from bench_lsp_protocol import (
    DEBOUNCE_MS,
    completion_round_trips,
    start,
    status_round_trips,
    stop,
    suggestion_latencies,
    summary,
)
from bench_search import cached_index
from lsprotocol import types
from timing import p95, peak_rss_mb

ENTRIES, SHARED_ENTRIES = 5000, 1000
LIMITS = {"keystroke -> suggestions": 0.150, "completion": 0.050}
RSS_LIMIT_MB = 700


def workspace() -> tuple[Path, Path]:
    """The cached workspace folder (paper.tex, notes.md, refs.bib) and its index; built on first use."""
    folder = CACHE / f"suggest-ws-{ENTRIES}"
    index_path = CACHE / f"suggest-index-{ENTRIES}-100000.sqlite"
    rng = random.Random(7)
    refs = [synthetic_reference(i, rng) for i in range(ENTRIES)]
    if not (folder / "refs.bib").exists():
        from bench_lsp import SENTENCES

        from citewise.bib.bibtex.writer import format_entry

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "refs.bib").write_text("\n".join(format_entry(ref) for ref in refs), encoding="utf-8")
        body = "\n\n".join(f"{sentence} \\cite{{{refs[i].key}}}." for i, sentence in enumerate(SENTENCES))
        (folder / "paper.tex").write_text(
            f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\bibliography{{refs}}\n\\end{{document}}\n",
            encoding="utf-8")
        _markdown_draft(folder)
    if not index_path.exists():
        from citewise.bib.index.store import Index

        partial = index_path.with_suffix(".partial")
        shutil.copyfile(cached_index(100_000), partial)
        with Index.open(partial) as index:
            index.add_references(refs[-SHARED_ENTRIES:])
            pending = index.needing_embedding()
            vectors = np.random.default_rng(7).standard_normal((len(pending), 384)).astype(np.float32)
            index.store_embeddings([item.row_id for item in pending], vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
            index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        os.replace(partial, index_path)
    return folder, index_path


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(repeat: int) -> list[str]:
    """The speed lines of the benchmark's report, each with its limit and whether it holds."""
    folder, index_path = workspace()
    client, _, _ = await start(folder, index_path)
    lines = []
    try:
        draft, notes = folder / "paper.tex", folder / "notes.md"
        for path, language in ((draft, "latex"), (notes, "markdown")):
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id=language, version=1, text=path.read_text(encoding="utf-8"))))
            client.versions[path.as_uri()] = 1
        text = draft.read_text(encoding="utf-8")
        while not any(r and r[-1].kind == "end" for r in client.progress_reports.values()):  # the model is loaded
            await status_round_trips(client, 1)
        pid = client._server.pid
        await suggestion_latencies(client, draft.as_uri(), text, 3)  # warm: the .bib's vectors, the matrix
        cpu = cpu_seconds(pid)
        suggestions = await suggestion_latencies(client, draft.as_uri(), text, repeat)
        cpu_per = {"keystroke -> suggestions": (cpu_seconds(pid) - cpu) / repeat}
        cpu = cpu_seconds(pid)
        completion = await completion_round_trips(client, draft.as_uri(), text, repeat)
        completion += await completion_round_trips(client, notes.as_uri(), notes.read_text(encoding="utf-8"), repeat,
                                                   markdown=True)
        cpu_per["completion"] = (cpu_seconds(pid) - cpu) / (2 * repeat)
        baseline = await status_round_trips(client, repeat)
        rss = peak_rss_mb(pid)
    finally:
        await stop(client)
    for label, seconds in (("keystroke -> suggestions", suggestions), ("completion", completion)):
        verdict = "holds" if p95(seconds) <= LIMITS[label] else "EXCEEDED"
        extra = f" beyond the {DEBOUNCE_MS} ms debounce" if label.startswith("keystroke") else ""
        lines.append(f"{label:<26} {summary(seconds)}{extra}; limit p95 {LIMITS[label] * 1000:.0f} ms: {verdict}; "
                     f"server CPU {cpu_per[label] * 1000:.1f} ms per request")
    lines.append(f"{'status round trip':<26} {summary(baseline)} (baseline)")
    lines.append(f"{'server peak RSS':<26} {rss} MB; limit {RSS_LIMIT_MB} MB: {'holds' if rss <= RSS_LIMIT_MB else 'EXCEEDED'}")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="requests per figure (default 60)")
    parser.add_argument("--cold", action="store_true", help="an empty cache directory: the server's first start")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citewise-cold-cache-") as cold_cache:
        if arguments.cold:
            os.environ["CITEWISE_CACHE_DIR"] = cold_cache
        for speed_line in asyncio.run(measure(arguments.repeat)):
            print(speed_line)
