""".bib files changing on disk (Zotero's auto-export, git, another editor): reload and re-diagnose.

Clients that can watch files get a dynamic registration for `**/*.bib` and send
workspace/didChangeWatchedFiles; for the others a polling loop asks the workspace which
known .bib files changed on disk since they were read (`Bibliographies.changed_on_disk`).
Either way the change goes through `Workspace.file_changed`, the one implementation.
A .bib read for the first time gets its fields on the `files` lane; the open documents using
it are then diagnosed again, with its field errors (`fields_parsed`).
"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from citewise.server.features.workspace import Workspace
from citewise.server.lsp import convert
from citewise.server.lsp.documents import publish_diagnostics
from citewise.server.lsp.server import CitewiseServer

WATCH_ID = "citewise-bib-watch"
POLL_INTERVAL_S = 1.0


async def start_watching(ls: CitewiseServer) -> None:
    """Ask the client to watch .bib files; clients that cannot get a polling loop instead."""
    if ls.project is not None:
        ls.project.bibs.on_fields_parsed = lambda path: ls.call_in_loop(lambda: ls.spawn(fields_parsed(ls, path)))
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
    ls.spawn(_poll_bib_files(ls))


async def did_change_watched_files(ls: CitewiseServer, params: types.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        path = convert.path_from_uri(change.uri)
        if path.lower().endswith(".bib"):
            await file_changed(ls, path)


async def file_changed(ls: CitewiseServer, path: str) -> None:
    """Re-read a .bib on the `files` lane (the old parse keeps answering), then re-diagnose."""
    stale = await ls.run(_file_changed, path) or []
    await ls.run(_wait_for_reloads, lane="files")
    for target in stale:
        await publish_diagnostics(ls, convert.uri_from_path(target))


async def fields_parsed(ls: CitewiseServer, path: str) -> None:
    """A .bib's fields were parsed in the background: diagnose again the open documents using it."""
    for uri in await ls.run(_open_documents_using, path, list(ls.workspace.text_documents)) or []:
        await publish_diagnostics(ls, uri, with_bib_files=True, verify=False)


def _open_documents_using(project: Workspace, path: str, open_uris: list[str]) -> list[str]:
    using = {path, *project.drafts_using(path)}
    return [uri for uri in open_uris if convert.path_from_uri(uri) in using]


def _file_changed(project: Workspace, path: str) -> list[str]:
    return project.file_changed(path)


def _wait_for_reloads(project: Workspace) -> None:
    """Queued behind the reload on the `files` lane: returns once it is done."""


def _changed_on_disk(project: Workspace) -> list[str]:
    return project.bibs.changed_on_disk()


async def _poll_bib_files(ls: CitewiseServer) -> None:
    while not ls.stopping:
        await asyncio.sleep(POLL_INTERVAL_S)
        for path in await ls.run(_changed_on_disk) or []:
            await file_changed(ls, path)
