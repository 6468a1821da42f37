"""`citewise mcp`: run the MCP server for AI assistants on stdio.

The SDK and the features are imported inside the handler so `citewise --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from citewise.server.cli.common import add_index_option


def register(subparsers) -> None:
    parser = subparsers.add_parser("mcp", help="run the MCP server for AI assistants (stdio)")
    parser.add_argument("--root", action="append", default=[], metavar="DIR",
                        help="a folder whose files the tools may read and write (repeatable; default: the current folder)")
    parser.add_argument("--read-only", action="store_true", help="switch off the tools that write files (cite)")
    parser.add_argument("--online", action="store_true",
                        help="let verify_references ask Crossref, DataCite, arXiv and OpenAlex (sends DOIs and titles)")
    parser.add_argument("--cite-command", action="append", default=[], metavar="CMD",
                        help=r"what cite writes: a LaTeX command such as \citep, or a Markdown form such as [@] or {cite:p}")
    parser.add_argument("--model", metavar="NAME_OR_PATH", help="embedding model (default: the index's own)")
    add_index_option(parser)
    parser.set_defaults(handler=run_mcp)


def run_mcp(args: argparse.Namespace) -> None:
    from citewise.server.cli.serve_cmd import leave_without_finalizing
    from citewise.server.mcp.server import create_server
    from citewise.server.mcp.session import Options

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="citewise %(levelname)s %(name)s: %(message)s")
    commands = {("latex" if command.startswith("\\") else "markdown"): command for command in args.cite_command}
    options = Options(roots=args.root or [os.getcwd()], index_path=args.index, model=args.model,
                      read_only=args.read_only, online=args.online, cite_command=commands or None)
    create_server(options).run("stdio")
    leave_without_finalizing()
