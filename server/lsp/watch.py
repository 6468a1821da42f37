""".bib files changing on disk (Zotero's auto-export, git, another editor): reload and re-diagnose.

Clients that can watch files get a dynamic registration for `**/*.bib` and send
workspace/didChangeWatchedFiles; for the others a polling loop compares modification
times. The baseline for a .bib is its mtime when its diagnostics were first published.
"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from citewise.server.lsp import convert
from citewise.server.lsp.documents import mtime_ns, publish_diagnostics
from citewise.server.lsp.server import CitewiseServer

WATCH_ID = "citewise-bib-watch"
POLL_INTERVAL_S = 1.0


async def start_watching(ls: CitewiseServer) -> None:
    """Ask the client to watch .bib files; clients that cannot get a polling loop instead."""
    if ls.client_flags.watch_files_dynamically:
        watcher = types.FileSystemWatcher(glob_pattern="**/*.bib")
        registration = types.Registration(
            id=WATCH_ID,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[watcher]),
        )
        try:
            await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
            ls.watching = "client"
            return
        except Exception as error:
            ls.log(f"client refused to watch .bib files, polling instead: {error}", types.MessageType.Warning)
    ls.watching = "polling"
    asyncio.ensure_future(_poll_bib_files(ls))


async def did_change_watched_files(ls: CitewiseServer, params: types.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        path = convert.path_from_uri(change.uri)
        if path.lower().endswith(".bib"):
            await file_changed(ls, path)


async def file_changed(ls: CitewiseServer, path: str) -> None:
    """Re-parse a .bib on its own thread (the old parse keeps answering), then re-diagnose."""
    ls.bib_mtimes[path] = mtime_ns(path)
    await ls.run(_reload_bib, path, executor=ls.file_reader)
    for stale in await ls.run(_paths_to_rediagnose, path, fallback=[]):
        await publish_diagnostics(ls, convert.uri_from_path(stale))


def _reload_bib(project, path: str) -> None:
    project.reload_bib(path)


def _paths_to_rediagnose(project, path: str) -> list[str]:
    return [path] + project.drafts_using(path)


async def _poll_bib_files(ls: CitewiseServer) -> None:
    while not ls.stopping:
        await asyncio.sleep(POLL_INTERVAL_S)
        for path, seen in list(ls.bib_mtimes.items()):
            if mtime_ns(path) != seen:
                await file_changed(ls, path)

