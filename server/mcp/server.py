"""The MCP server: tool and resource definitions on the official SDK, wired to the tool functions.

Concurrency (the language server's model, server/features/background.py, with the domain thread in
the features thread's place): the SDK's event loop reads and answers messages; every tool and
resource call runs on one domain thread (`DomainThread`), one call at a time in arrival order, so
the workspace, the index connection and the model are only ever touched there; the workspace's
background lanes (parsing .bib fields, reading vectors) build new values and publish them.

Inputs are validated by the SDK from the annotated signatures below (bounds included),
so a bad argument comes back as a tool error naming it. Outputs are compact JSON text;
lists are bounded and `search_papers` pages with `offset`/`next_offset`. With
`read_only` the write tool (`cite`) is not offered at all.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from citewise.bib.errors import CitewiseError
from citewise.server.mcp import draft_tools, library_tools
from citewise.server.mcp.session import Options, Session

INSTRUCTIONS = ("Cite only papers these tools return; never invent references. "
                "Paths are relative to the workspace root.")
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
READ_NETWORK = ToolAnnotations(read_only_hint=True, open_world_hint=True)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

DraftPath = Annotated[str, Field(min_length=1, max_length=4096, description="draft file (.tex/.md), relative to the root")]
Year = Annotated[int | None, Field(ge=1000, le=2999)]
Line = Annotated[int | None, Field(ge=1, le=10_000_000, description="1-based line")]
Key = Annotated[str, Field(min_length=1, max_length=200)]


class DomainThread:
    """The one thread every domain call runs on; CitewiseError becomes `error(message)`."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-mcp")

    async def run(self, error: type[Exception], function, *args):
        call = functools.partial(function, *args)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except CitewiseError as failure:
            raise error(str(failure)) from None


def create_server(options: Options) -> MCPServer:
    session = Session(options)
    domain = DomainThread()
    server = MCPServer("citewise", instructions=INSTRUCTIONS, log_level="WARNING")

    async def call(function, *args) -> CallToolResult:
        value = await domain.run(ToolError, function, session, *args)
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return CallToolResult(content=[TextContent(type="text", text=text)])

    _add_tools(server, session, call)

    @server.resource("citewise://index/stats", mime_type="application/json", description="index statistics")
    async def index_stats() -> str:
        return json.dumps(await domain.run(ResourceError, library_tools.index_statistics, session))

    @server.resource("citewise://bibliography/{+draft_path}", mime_type="application/x-bibtex",
                     description="the BibTeX entries a draft cites")
    async def draft_bibliography(draft_path: str) -> str:
        return await domain.run(ResourceError, draft_tools.bibliography, session, draft_path)

    return server


def _add_tools(server: MCPServer, session: Session, call: Callable[..., Awaitable[CallToolResult]]) -> None:
    """The tools, each validated by the SDK from its signature and run through `call`."""

    @server.tool(annotations=READ)
    async def search_papers(
        query: Annotated[str, Field(min_length=1, max_length=2000)],
        k: Annotated[int, Field(ge=1, le=50)] = 10,
        offset: Annotated[int, Field(ge=0, le=200)] = 0,
        year_from: Year = None,
        year_to: Year = None,
    ) -> CallToolResult:
        """Search the author's paper index (not the web). Use the keys with cite and get_reference."""
        return await call(library_tools.search_papers, query, k, offset, year_from, year_to)

    @server.tool(annotations=READ)
    async def suggest_citations(
        draft_path: DraftPath,
        text: Annotated[str | None, Field(max_length=5000, description="a passage to find papers for")] = None,
        line: Line = None,
        k: Annotated[int, Field(ge=1, le=20)] = 5,
    ) -> CallToolResult:
        """Papers to cite for a passage (text) or the sentence ending at a line of the draft, ranked as in the editor."""
        return await call(draft_tools.suggest_citations, draft_path, text, line, k)

    @server.tool(annotations=READ)
    async def get_reference(
        key: Key | None = None,
        doi: Annotated[str | None, Field(max_length=300)] = None,
        arxiv: Annotated[str | None, Field(max_length=100)] = None,
        draft_path: Annotated[str | None, Field(max_length=4096, description="look in its .bib first")] = None,
    ) -> CallToolResult:
        """BibTeX entry and abstract start of one paper, by key, DOI or arXiv id."""
        return await call(library_tools.get_reference, key, doi, arxiv, draft_path)

    if not session.read_only:
        @server.tool(annotations=WRITE)
        async def cite(
            draft_path: DraftPath,
            keys: Annotated[list[Key], Field(min_length=1, max_length=20)],
            line: Line = None,
            column: Annotated[int | None, Field(ge=1, le=1_000_000)] = None,
        ) -> CallToolResult:
            """Citation text for keys in the draft's syntax; adds missing entries to its .bib. Insert the citation yourself."""
            return await call(draft_tools.cite, draft_path, keys, line, column)

    @server.tool(annotations=READ_NETWORK if session.online else READ)
    async def verify_references(
        path: Annotated[str, Field(min_length=1, max_length=4096, description="a draft or a .bib file")],
        offset: Annotated[int, Field(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
    ) -> CallToolResult:
        """Check that references are real, current and complete (citewise verify); problems first."""
        return await call(draft_tools.verify_references, path, offset, limit)

    @server.tool(annotations=READ)
    async def library_status() -> CallToolResult:
        """Index size, paper sources, model, last Zotero sync."""
        return await call(library_tools.library_status)
