"""Session lifecycle: initialize, initialized (workspace, model, file watching), configuration, shutdown.

`initialize` only records what the client said and answers: no features import, no
index, no torch. `initialized` then reads the settings, creates the features workspace
on the worker thread, starts watching .bib files and loads the embedding model in the
background with work-done progress; until the model is ready, ranking is lexical + fuzzy.
"""

from __future__ import annotations

import asyncio
import os

from lsprotocol import types

from citewise.server.lsp import convert
from citewise.server.lsp.progress import WorkDone
from citewise.server.lsp.server import CitewiseServer, ClientFlags, torch_imported

WATCH_ID = "citewise-bib-watch"
POLL_INTERVAL_S = 2.0


def initialize(ls: CitewiseServer, params: types.InitializeParams) -> None:
    ls.client_flags = ClientFlags.of(params.capabilities)
    ls.init_options = params.initialization_options
    ls.roots = _root_paths(params)
    ls.torch_imported_at_initialize = torch_imported()


async def initialized(ls: CitewiseServer, params: types.InitializedParams) -> None:
    ls.loop = asyncio.get_running_loop()
    try:
        settings = await read_settings(ls, pushed=None)
        ls.project = await asyncio.get_running_loop().run_in_executor(ls.worker, _create_project, ls.roots, settings)
        ls.settings = settings
    except Exception as error:
        ls.project_error = str(error)
        ls.show_once(f"citewise could not start: {error}", types.MessageType.Error)
    finally:
        ls.project_ready.set()
    if ls.project is not None:
        await start_watching(ls)
        asyncio.ensure_future(load_model(ls))


def _create_project(roots: list[str], settings):
    from citewise.server.features.workspace import Workspace

    return Workspace(roots, settings)


def _root_paths(params: types.InitializeParams) -> list[str]:
    if params.workspace_folders:
        return [convert.path_from_uri(folder.uri) for folder in params.workspace_folders]
    if params.root_uri:
        return [convert.path_from_uri(params.root_uri)]
    if params.root_path:
        return [params.root_path]
    return []


# --- settings -------------------------------------------------------------------------


async def read_settings(ls: CitewiseServer, pushed):
    """initializationOptions, then the "citewise" section the client pushed or we pull on top.

    Each warning about a bad value is shown once; the value falls back to its default.
    """
    from citewise.server.features.settings import parse_settings

    settings, warnings = parse_settings(ls.init_options if isinstance(ls.init_options, dict) else None)
    if ls.init_options is not None and not isinstance(ls.init_options, dict):
        warnings.append("citewise: initializationOptions must be an object; ignored")
    section = pushed if pushed is not None else await _pull_section(ls)
    if section is not None:
        settings, more = parse_settings(section, base=settings)
        warnings.extend(more)
    for warning in warnings:
        ls.show_once(warning)
    return settings


async def _pull_section(ls: CitewiseServer):
    if not ls.client_flags.configuration:
        return None
    try:
        values = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="citewise")])
        )
    except Exception as error:
        ls.log(f"workspace/configuration failed: {error}", types.MessageType.Warning)
        return None
    return values[0] if values else None


async def did_change_configuration(ls: CitewiseServer, params: types.DidChangeConfigurationParams) -> None:
    project = await ls.ready()
    if project is None:
        return
    pushed = params.settings.get("citewise") if isinstance(params.settings, dict) else None
    settings = await read_settings(ls, pushed)
    ls.settings = settings
    await ls.run(_update_settings, settings)


def _update_settings(project, settings) -> None:
    project.update_settings(settings)


# --- the embedding model --------------------------------------------------------------


async def load_model(ls: CitewiseServer) -> None:
    """Import torch and sentence-transformers in the background (seconds), then load the model.

    The last step (under a second) runs on the features thread: it hands the model to the
    index searcher, whose SQLite connection belongs to that thread.
    """
    progress = await WorkDone.begin(ls, "citewise: loading the embedding model")
    ls.model_state = "loading"
    try:
        await asyncio.get_running_loop().run_in_executor(ls.background, _import_model_libraries)
        progress.report("loading the model", 80)
        await ls.run_strict(_load_model)
    except Exception as error:
        ls.model_state = "failed"
        ls.log(f"semantic ranking unavailable, using lexical + fuzzy: {error}", types.MessageType.Warning)
        progress.end("model not loaded; lexical + fuzzy ranking")
        return
    ls.model_state = "ready"
    progress.end("semantic ranking ready")


def _import_model_libraries() -> None:
    import sentence_transformers  # noqa: F401  (the slow import, done off the features thread)


def _load_model(project) -> None:
    project.load_model()


# --- .bib files changing on disk ------------------------------------------------------


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
        await file_changed(ls, convert.path_from_uri(change.uri))


async def file_changed(ls: CitewiseServer, path: str) -> None:
    """Re-parse a .bib on the background thread (the old parse keeps answering), then re-diagnose."""
    await ls.run(_reload_bib, path, executor=ls.background)
    from citewise.server.lsp.documents import publish_diagnostics

    for stale in await ls.run(_paths_to_rediagnose, path, fallback=[]):
        await publish_diagnostics(ls, convert.uri_from_path(stale))


def _reload_bib(project, path: str) -> None:
    project.reload_bib(path)


def _paths_to_rediagnose(project, path: str) -> list[str]:
    return [path] + project.drafts_using(path)


async def _poll_bib_files(ls: CitewiseServer) -> None:
    mtimes: dict[str, float] = {}
    while not ls.stopping:
        await asyncio.sleep(POLL_INTERVAL_S)
        for path in await ls.run(_known_bib_paths, fallback=[]):
            mtime = _mtime(path)
            if path in mtimes and mtime != mtimes[path]:
                await file_changed(ls, path)
            mtimes[path] = mtime


def _known_bib_paths(project) -> list[str]:
    return project.known_bib_paths()


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


# --- shutdown ---------------------------------------------------------------------------


def shutdown(ls: CitewiseServer, params: None) -> None:
    ls.shutdown_threads()


def register(server: CitewiseServer) -> None:
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(did_change_watched_files)
