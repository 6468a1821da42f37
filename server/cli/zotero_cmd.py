"""`citewise zotero sync` and `citewise zotero status`: the Zotero library as part of the index."""

from __future__ import annotations

import argparse
import sys

from citewise.server.cli.common import add_index_option, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("zotero", help="sync a Zotero library into the index")
    commands = parser.add_subparsers(dest="zotero_command", required=True, metavar="ACTION")

    sync = commands.add_parser("sync", help="pull the library's changes into the index")
    sync.add_argument("--library", metavar="users/N|groups/N",
                      help="library (default: $CITEWISE_ZOTERO_LIBRARY; with --local, users/0: your own library)")
    sync.add_argument("--local", action="store_true",
                      help="read the Zotero desktop app's local API (localhost:23119)")
    sync.add_argument("--endpoint", metavar="URL",
                      help="API base URL (default: $CITEWISE_ZOTERO_ENDPOINT, else api.zotero.org)")
    sync.add_argument("--sqlite", metavar="PATH", help="read a zotero.sqlite file instead (offline)")
    sync.add_argument("--full", action="store_true", help="refetch every item, not only the changes")
    sync.add_argument("--bib", metavar="FILE", action="append", default=[],
                      help="update this .bib file's entries for changed items (repeatable)")
    add_index_option(sync)
    sync.set_defaults(handler=run_sync)

    status = commands.add_parser("status", help="synced libraries: version, items, last sync")
    status.add_argument("--json", action="store_true", help="print JSON")
    add_index_option(status)
    status.set_defaults(handler=run_status)


def run_sync(args: argparse.Namespace) -> int:
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index

    with Index.open(resolve_index_path(args.index)) as index:
        if args.sqlite:
            summary = _sync_sqlite(index, args.sqlite)
        else:
            summary = _sync_web(index, args)
    print(f"zotero: {summary.added} added, {summary.updated} updated, {summary.deleted} deleted, "
          f"{summary.requests} requests, library version {summary.version}")
    if args.bib:
        _update_bibs(args.bib, summary)
    return 0


def _sync_web(index, args: argparse.Namespace):
    from citewise.bib.zotero.client import make_settings
    from citewise.bib.zotero.sync import sync_library

    settings = make_settings(library=args.library, local=args.local, endpoint=args.endpoint)
    summary = sync_library(index, settings, on_progress=_progress_bar, full=args.full)
    sys.stderr.write("\n")
    return summary


def _sync_sqlite(index, path: str):
    from citewise.bib.zotero.sqlite_reader import read_zotero_sqlite
    from citewise.bib.zotero.sync import apply_library_snapshot

    return apply_library_snapshot(index, "sqlite", read_zotero_sqlite(path))


def _update_bibs(paths: list[str], summary) -> None:
    from citewise.bib.zotero.bibsync import sync_bib_files

    result = sync_bib_files(paths, summary.changed, summary.removed_keys)
    for path, keys in result.updated.items():
        print(f"{path}: updated {', '.join(keys)}")
    for path, key in result.deleted_in_zotero:
        print(f"{path}: {key} was deleted in Zotero; its entry is left in place")


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    sys.stderr.write(f"\rzotero: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} items")
    sys.stderr.flush()


def run_status(args: argparse.Namespace) -> int:
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index
    from citewise.bib.zotero.sync import library_status

    with Index.open(resolve_index_path(args.index)) as index:
        rows = library_status(index)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no Zotero library synced yet: run `citewise zotero sync --library users/N`")
    for row in rows:
        print(f"{row['library']}: version {row['version']}, {row['items']} items, last sync {row['last_sync']}")
    return 0
