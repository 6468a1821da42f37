"""`citewise cites` and `citewise bib`: list a draft's citations, write the .bib it needs.

Both read the draft and every file it includes. Problems with includes or
declared bibliographies are printed as `citewise: file:line: …` on stderr and
do not stop the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from citewise.server.cli.common import add_index_option, print_json


def register(subparsers) -> None:
    cites = subparsers.add_parser("cites", help="list every citation in LaTeX or Markdown drafts")
    cites.add_argument("drafts", nargs="+", metavar="DRAFT", help=".tex, .md, .qmd or .Rmd file (included files follow)")
    cites.add_argument("--json", action="store_true", help="print a JSON array of {file, line, column, command, keys}")
    cites.set_defaults(handler=run_cites)

    bib = subparsers.add_parser("bib", help="write the .bib holding exactly the entries drafts cite")
    bib.add_argument("drafts", nargs="*", metavar="DRAFT", help=".tex, .md, .qmd or .Rmd file")
    bib.add_argument("-o", "--output", metavar="OUT", help="file to write (atomically); default: standard output")
    bib.add_argument("--from", dest="extra_bibs", nargs="+", action="extend", default=[], metavar="BIB",
                     help=".bib files to search after the drafts' own")
    bib.add_argument("--all", action="store_true", help="also export every reference in the index")
    add_index_option(bib)
    bib.set_defaults(handler=run_bib)


def run_cites(args: argparse.Namespace) -> int:
    drafts = _load_drafts(args.drafts)
    records = [
        {
            "file": _shown(citation.file),
            "line": citation.line + 1,
            "column": citation.col + 1,
            "command": citation.command,
            "keys": citation.key_names,
        }
        for draft in drafts
        for citation in draft.citations
    ]
    if args.json:
        print_json(records)
    else:
        for record in records:
            print(f"{record['file']}:{record['line']}:{record['column']}\t{record['command']}\t{', '.join(record['keys'])}")
    return 0


def run_bib(args: argparse.Namespace) -> int:
    from citewise.bib.bibtex.edit import write_atomically
    from citewise.bib.errors import CitewiseError
    from citewise.server.drafts.bibgen import generate_bib

    if not args.drafts and not args.all:
        raise CitewiseError("bib: name at least one draft, or use --all to export the whole index")
    for path in args.extra_bibs:
        if not Path(path).is_file():
            raise CitewiseError(f"{path}: no such .bib file")
    drafts = _load_drafts(args.drafts)
    if args.output:
        _refuse_to_overwrite_a_source(args.output, [*args.extra_bibs, *(path for draft in drafts for path in draft.bib_files)])
    index = _open_index(args.index, required=args.all)
    try:
        result = generate_bib(drafts, args.extra_bibs, index, include_index=args.all)
    finally:
        if index is not None:
            index.close()
    for warning in result.warnings:
        print(f"citewise: {warning}", file=sys.stderr)
    if args.output:
        try:
            write_atomically(args.output, result.text)
        except OSError as error:
            raise CitewiseError(f"{args.output}: cannot write: {error.strerror or error}") from None
        from_index = sum(1 for source in result.sources.values() if source == "index")
        print(f"wrote {len(result.keys)} entries to {args.output} ({len(result.keys) - from_index} from .bib files, "
              f"{from_index} from the index)", file=sys.stderr)
    else:
        sys.stdout.write(result.text)
    if result.missing_keys:
        print(f"citewise: {len(result.missing_keys)} cited keys not found: {', '.join(result.missing_keys)}", file=sys.stderr)
        return 1
    return 0


def _load_drafts(paths: list[str]):
    from citewise.server.drafts.project import load_draft

    drafts = [load_draft(path) for path in paths]
    for draft in drafts:
        for error in draft.errors:
            print(f"citewise: {_shown_in_message(error)}", file=sys.stderr)
    return drafts


def _open_index(explicit: str | None, required: bool):
    from citewise.bib.errors import CitewiseError
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index

    path = resolve_index_path(explicit)
    if not path.exists():
        if explicit or required:
            raise CitewiseError(f"{path}: no index here; build one with `citewise index add`")
        return None
    return Index.open(path, create=False)


def _refuse_to_overwrite_a_source(output: str, sources: list[str]) -> None:
    from citewise.bib.errors import CitewiseError

    target = Path(output).resolve()
    if any(Path(source).resolve() == target for source in sources):
        raise CitewiseError(f"{output} is one of the bibliographies being read; write the output to another file")


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies inside it, else as given."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _shown_in_message(message: str) -> str:
    path, separator, rest = message.partition(":")
    return _shown(path) + separator + rest if separator and os.path.isabs(path) else message
