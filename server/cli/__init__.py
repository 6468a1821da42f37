"""The `citewise` command: argument parsing and the one place errors become exit codes.

Each subcommand lives in its own module with `register(subparsers)`, which adds its
parser and sets `handler`. Modules import heavy things (the index, torch) inside
their handlers, so `citewise --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from citewise.bib.errors import CitewiseError
from citewise.server.cli import (
    draft_cmd,
    index_cmd,
    mcp_cmd,
    resolve_cmd,
    search_cmd,
    serve_cmd,
    verify_cmd,
    zotero_cmd,
)

SUBCOMMAND_MODULES = (index_cmd, search_cmd, draft_cmd, resolve_cmd, verify_cmd, zotero_cmd, serve_cmd, mcp_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citewise",
        description="Citation assistant: index papers, suggest citations, write .bib files, serve editors.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except CitewiseError as error:
        print(f"citewise: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("citewise: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
