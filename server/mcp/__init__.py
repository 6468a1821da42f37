"""`citewise mcp`: the Model Context Protocol server that lets AI writing assistants cite from the index.

roots.py       the workspace roots and the path check every file goes through
session.py     the features `Workspace` over those roots, the index and the lazily loaded model
library_tools  search_papers, get_reference, library_status, the index statistics
draft_tools    suggest_citations, cite, a draft's bibliography
server.py      the tools and resources on the `mcp` SDK, and the one thread domain calls run on

Only this package imports `mcp`; the tools call the same features the CLI and the
language server use.
"""
