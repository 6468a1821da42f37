"""An agent's "add citations to this paragraph", played against `citewise mcp` over stdio.

Copies examples/draft.tex and examples/library.bib into WORKDIR, starts `citewise mcp
--root WORKDIR` with the MCP SDK's client, and for each uncited sentence of the draft's
second paragraph calls `suggest_citations`, takes the best paper, calls `cite` at the end
of the sentence and inserts the returned citation (the agent's own edit). The server runs
with `--cite-command '\\citep'`, as the draft uses natbib. Prints the
calls, the answers and the .bib's diff as Markdown (the README's worked session).

    python examples/mcp_session.py --index INDEX WORKDIR
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import shutil
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

EXAMPLES = Path(__file__).resolve().parent
SENTENCES = (
    ("Predictor-corrector samplers suffer from a misalignment introduced by the\ncorrector step, "
     "which dynamic compensation of the predictor can remove."),
    "Sequential Monte Carlo correctors make annealing, guidance and products of\nexperts principled at sampling time.",
)


async def session(workdir: Path, index: str) -> list[str]:
    draft, bib = workdir / "draft.tex", workdir / "library.bib"
    bib_before = bib.read_text(encoding="utf-8")
    command = ["-m", "citewise", "mcp", "--root", str(workdir), "--cite-command", "\\citep"]
    params = StdioServerParameters(command=sys.executable, args=command, env={**os.environ, "CITEWISE_INDEX": index},
                                   cwd=str(workdir))
    lines = []
    async with Client(stdio_client(params), mode="legacy") as client:
        for sentence in SENTENCES:
            asked = {"draft_path": "draft.tex", "text": sentence, "k": 3}
            suggested = await _call(client, lines, "suggest_citations", asked)
            best = suggested["suggestions"][0]["key"]
            text = draft.read_text(encoding="utf-8")
            end = text.index(sentence) + len(sentence) - 1  # before the full stop
            line, column = text.count("\n", 0, end) + 1, end - text.rfind("\n", 0, end)
            cited = await _call(client, lines, "cite", {"draft_path": "draft.tex", "keys": [best],
                                                        "line": line, "column": column})
            draft.write_text(text[:end] + cited["citation"] + text[end:], encoding="utf-8")  # the agent's edit
    diff = difflib.unified_diff(bib_before.splitlines(), bib.read_text(encoding="utf-8").splitlines(),
                                "library.bib", "library.bib", lineterm="", n=0)
    lines += ["The .bib afterwards (`diff -u`, lines over 100 characters shortened):", "", "```diff",
              *(line if len(line) <= 100 else line[:99] + "…" for line in diff), "```"]
    return lines


async def _call(client: Client, lines: list[str], tool: str, arguments: dict) -> dict:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text
    if result.is_error:
        raise SystemExit(f"{tool}: {text}")
    lines += [f"→ `{tool}` `{json.dumps(arguments, ensure_ascii=False)}`", "", "```json", text, "```", ""]
    return json.loads(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="an empty folder to play the session in")
    parser.add_argument("--index", required=True, help="an index holding the digest and the example library")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in ("draft.tex", "library.bib"):
        shutil.copy(EXAMPLES / name, args.workdir / name)
    print("\n".join(asyncio.run(session(args.workdir.resolve(), args.index))))


if __name__ == "__main__":
    main()
