"""The protocol floor for completion: a minimal pygls server answering 50 fixed items.

bench_lsp_protocol.py drives it through the same client as `citewise serve`, in the same
run, so that citewise's completion latency and reply size read as a ratio to what pygls,
JSON-RPC and the pipes cost by themselves.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("floor", "1")
ITEMS = [
    types.CompletionItem(label=f"author{n:02d}Paper{n:02d}Title{2000 + n}", kind=types.CompletionItemKind.Reference,
                         detail=f"Author {n} {2000 + n}", sort_text=f"{n:05d}")
    for n in range(50)
]


@server.feature(types.TEXT_DOCUMENT_COMPLETION)
def complete(params: types.CompletionParams) -> types.CompletionList:
    return types.CompletionList(is_incomplete=True, items=ITEMS)


@server.command("citewise.status")
def status(*args: object) -> dict[str, bool]:
    return {"ready": True}


if __name__ == "__main__":
    server.start_io()
