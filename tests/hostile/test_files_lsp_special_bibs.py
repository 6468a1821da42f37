"""The language server over stdio with a FIFO and /dev/zero declared as .bib files: completion and status still answer."""

from __future__ import annotations

import asyncio
import os

from lsp_support import lsp_session, open_file, position_of, status
from lsprotocol import types


async def test_fifo_and_device_bibliographies_never_wedge_the_server(latex_workspace):
    os.mkfifo(latex_workspace / "pipe.bib")
    (latex_workspace / "zero.bib").symlink_to("/dev/zero")
    draft = latex_workspace / "paper.tex"
    text = draft.read_text().replace("\\bibliography{refs}", "\\bibliography{pipe,zero,refs}").replace(
        "\\cite{vaswaniAttentionAllYou2017}", "\\cite{zheng}")
    draft.write_text(text)
    async with lsp_session("visual-studio-code", latex_workspace) as client:
        uri = open_file(client, draft, text)
        params = types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                        position=position_of(text, "\\cite{zheng}", len("\\cite{zheng")))
        result = await asyncio.wait_for(client.text_document_completion_async(params), 120)
        assert "zhengDPMSolverv3ImprovedDiffusion2023" in {item.label for item in result.items}
        state = await asyncio.wait_for(status(client), 120)
        assert state["ready"] is True
        fifo_uri = (latex_workspace / "pipe.bib").as_uri()
        symbols = await asyncio.wait_for(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=fifo_uri))), 120)
        assert not symbols
    assert (latex_workspace / "pipe.bib").is_fifo()
