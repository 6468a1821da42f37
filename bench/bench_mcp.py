"""MCP server benchmark: what an assistant waits for from a real `citewise mcp` on stdio.

The index holds the seed digest and the example library (built once in a temporary folder,
or given with --index). The client is the MCP SDK's own, over stdio.

Figures (median and p95):
  start        spawn -> `initialize` reply; baseline: a one-tool server on the bare SDK
  first search the first `search_papers` (loads the embedding model)
  search       `search_papers` round trip, k=10; baseline: `Searcher.search` in process
  suggest      `suggest_citations` for a line of examples/draft.tex
  peak RSS     the server process (VmHWM) after the calls

Run: .venv/bin/python bench/bench_mcp.py [--repeat 30] [--starts 5] [--index PATH]
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
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import p95, peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BARE_SDK_SERVER = ("from mcp.server import MCPServer\nserver = MCPServer('bare')\n"
                   "@server.tool()\ndef ping() -> str:\n    return 'pong'\nserver.run()\n")


def build_index(folder: Path) -> Path:
    from citewise.bib.index.embed import Embedder, embed_pending
    from citewise.bib.index.store import Index
    from citewise.bib.readers import read_path

    path = folder / "index.sqlite"
    with Index.open(path) as index:
        for source in ("daily-papers-digest.txt", "library.bib"):
            index.add_references(read_path(REPO / "examples" / source).references)
        embed_pending(index, Embedder.load())
    return path


def queries() -> list[str]:
    """First sentences of the digest's abstracts: realistic claims to find papers for."""
    paragraphs = (REPO / "examples" / "daily-papers-digest.txt").read_text(encoding="utf-8").split("\n\n")
    return [p.split(". ")[0] for p in paragraphs if len(p) > 400][:60]


def params(args: list[str], root: Path, index: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=args, cwd=str(root),
                                 env={**os.environ, "CITEWISE_INDEX": str(index)})


async def time_start(server: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with Client(stdio_client(server), mode="legacy"):
        return time.perf_counter() - started


def server_pid() -> int:
    """The newest child process of this one (the server the client spawned)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                children.append(int(entry.name))
    return max(children)


async def run(root: Path, index: Path, repeat: int, starts: int) -> None:
    citewise = params(["-m", "citewise", "mcp", "--root", str(root)], root, index)
    bare = params(["-c", BARE_SDK_SERVER], root, index)
    start = [await time_start(citewise) for _ in range(starts)]
    bare_start = [await time_start(bare) for _ in range(starts)]
    texts = queries()[:repeat]
    searches, suggestions = [], []
    async with Client(stdio_client(citewise), mode="legacy") as client:
        began = time.perf_counter()
        await client.call_tool("search_papers", {"query": texts[0]})
        first = time.perf_counter() - began
        for text in texts:
            began = time.perf_counter()
            await client.call_tool("search_papers", {"query": text, "k": 10})
            searches.append(time.perf_counter() - began)
        for line in (12, 13, 20, 22, 24, 30, 31) * (repeat // 7 + 1):
            began = time.perf_counter()
            await client.call_tool("suggest_citations", {"draft_path": "draft.tex", "line": line})
            suggestions.append(time.perf_counter() - began)
        rss = peak_rss_mb(server_pid())
    in_process = in_process_search(index, texts)
    row = "{:<14} {:>9.0f} {:>9.0f}   {}"
    print(f"{'ms':<14} {'median':>9} {'p95':>9}   baseline (median / p95)")
    print(row.format("start", 1000 * statistics.median(start), 1000 * p95(start),
                     f"bare SDK server {1000 * statistics.median(bare_start):.0f} / {1000 * p95(bare_start):.0f}"))
    print(row.format("first search", 1000 * first, 1000 * first, "(model load)"))
    print(row.format("search k=10", 1000 * statistics.median(searches), 1000 * p95(searches),
                     f"Searcher.search in process {1000 * statistics.median(in_process):.1f} / {1000 * p95(in_process):.1f}"))
    print(row.format("suggest line", 1000 * statistics.median(suggestions), 1000 * p95(suggestions), ""))
    print(f"peak RSS of the server: {rss} MB")


def in_process_search(index_path: Path, texts: list[str]) -> list[float]:
    from citewise.bib.index.embed import Embedder
    from citewise.bib.index.search import Searcher
    from citewise.bib.index.store import Index

    with Index.open(index_path, create=False) as index:
        searcher = Searcher(index, Embedder.load())
        searcher.search(texts[0])
        times = []
        for text in texts:
            began = time.perf_counter()
            searcher.search(text, k=10)
            times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--index", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "root"
        root.mkdir()
        shutil.copy(REPO / "examples" / "draft.tex", root / "draft.tex")
        shutil.copy(REPO / "examples" / "library.bib", root / "library.bib")
        index = args.index or build_index(Path(folder))
        asyncio.run(run(root, index, args.repeat, args.starts))


if __name__ == "__main__":
    main()
