"""Session lifecycle: initialize, initialized (workspace, model, file watching), configuration, shutdown.

`initialize` only records what the client said and answers: nothing on that path opens
the index or imports torch. `initialized` then reads the settings, creates the features workspace
on the features thread, starts watching .bib files and loads the embedding model on the `model`
lane with work-done progress; until the model is ready, ranking is lexical + fuzzy.
"""

from __future__ import annotations

import asyncio
from functools import partial

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from citewise.server.features.settings import Settings, parse_settings
from citewise.server.features.workspace import Workspace
from citewise.server.lsp import convert
from citewise.server.lsp.documents import publish_diagnostics
from citewise.server.lsp.progress import WorkDone
from citewise.server.lsp.server import CitewiseServer, ClientFlags, torch_imported
from citewise.server.lsp.watch import did_change_watched_files, start_watching

CONFIGURATION_TIMEOUT_S = 5.0


def initialize(ls: CitewiseServer, params: types.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    ls.client_flags = ClientFlags.of(params.capabilities)
    ls.init_options = params.initialization_options
    ls.roots = _root_paths(params)
    ls.torch_imported_at_initialize = torch_imported()
    # The imports, out of every full collection's walk (background.py). Their first collection holds
    # the GIL 30-60 ms: here, where the editor waits for this reply anyway, not at `initialized`,
    # when it opens a draft and asks for its first completion in the same milliseconds.
    ls.lanes.keep_built()


async def initialized(ls: CitewiseServer, params: types.InitializedParams) -> None:
    try:
        settings = await read_settings(ls, pushed=None)
        ls.project = await asyncio.get_running_loop().run_in_executor(
            ls.lanes["features"], partial(Workspace, ls.roots, settings, ls.lanes))
        ls.lanes.keep_built()  # what the workspace's creation imported: a short collection, see `initialize`
        ls.settings = settings
        ls.model_state = "loading"
    except Exception as error:
        ls.project_error = str(error)
        ls.show_once(f"citewise could not start: {error}", types.MessageType.Error)
    finally:
        ls.project_ready.set()
    if ls.project is not None:
        ls.spawn(load_model(ls))
        await start_watching(ls)
        if ls.settings is not None and ls.settings.zotero_sync_on_start:
            ls.spawn(_sync_zotero_on_start(ls))


async def _sync_zotero_on_start(ls: CitewiseServer) -> None:
    from citewise.server.lsp.commands import sync_zotero

    try:
        await sync_zotero(ls)
    except JsonRpcException as error:
        ls.show_once(f"citewise: Zotero sync failed: {error.message}")


def _root_paths(params: types.InitializeParams) -> list[str]:
    if params.workspace_folders:
        return [convert.path_from_uri(folder.uri) for folder in params.workspace_folders]
    if params.root_uri:
        return [convert.path_from_uri(params.root_uri)]
    if params.root_path:
        return [params.root_path]
    return []


# --- settings -------------------------------------------------------------------------


async def read_settings(ls: CitewiseServer, pushed: object) -> Settings:
    """initializationOptions, then the "citewise" section the client pushed or we pull on top.

    Each warning about a bad value is shown once; the value falls back to its default.
    """
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


async def _pull_section(ls: CitewiseServer) -> object:
    if not ls.client_flags.configuration:
        return None
    try:
        values = await asyncio.wait_for(
            ls.workspace_configuration_async(types.ConfigurationParams(items=[types.ConfigurationItem(section="citewise")])),
            CONFIGURATION_TIMEOUT_S,
        )
    except Exception as error:  # includes a client that never answers
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


def _update_settings(project: Workspace, settings: Settings) -> None:
    project.update_settings(settings)


# --- the embedding model --------------------------------------------------------------


async def load_model(ls: CitewiseServer) -> None:
    """Load the embedding model on the `model` lane (seconds; torch is imported only for a
    model our own encoder does not run, bib/index/embed.py).

    The features thread keeps answering meanwhile; the index searcher picks the model up
    on its next use there, since its SQLite connection belongs to that thread.
    """
    progress = await WorkDone.begin(ls, "citewise: loading the embedding model")
    try:
        assert ls.project is not None  # load_model starts once the workspace exists
        # loading holds the GIL for long stretches (importing torch, when a model needs it, up to a
        # second at a time): the editor's first requests in a draft just opened go first
        # (lexical ranking answers until the model is ready)
        await asyncio.wrap_future(ls.lanes.submit_when_quiet("model", ls.project.load_model))
    except Exception as error:
        ls.model_state = "failed"
        ls.log(f"semantic ranking unavailable, using lexical + fuzzy: {error}", types.MessageType.Warning)
        progress.end("model not loaded; lexical + fuzzy ranking")
        return
    ls.model_state = "ready"
    progress.end("semantic ranking ready")
    if ls.settings is not None and ls.settings.verify:  # cite-check waited for the model
        for uri in list(ls.workspace.text_documents):
            ls.spawn(publish_diagnostics(ls, uri))


# --- shutdown ---------------------------------------------------------------------------


def shutdown(ls: CitewiseServer, params: None) -> None:
    ls.shutdown_threads()


def register(server: CitewiseServer) -> None:
    server.feature(types.INITIALIZE)(initialize)
    server.feature(types.INITIALIZED)(initialized)
    server.feature(types.SHUTDOWN)(shutdown)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(did_change_watched_files)
