"""workspace/executeCommand: the citewise.* commands editors bind to buttons, palettes and status bars.

Arguments are positional JSON values (documented per command below). Edits that
commands compute are applied through workspace/applyEdit; long work reports work-done
progress and, for reindexing, can be cancelled from the client's progress UI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from citewise.server.features import commands as features
from citewise.server.features import reference_checks
from citewise.server.features.positions import TextEdit
from citewise.server.lsp import convert
from citewise.server.lsp.convert import ADD_BIB_ENTRY
from citewise.server.lsp.progress import WorkDone
from citewise.server.lsp.server import CitewiseServer, torch_imported

T = TypeVar("T")
JsonObject = dict[str, Any]
"""A command's reply: a JSON object (the key names are the protocol's, in camelCase)."""


async def insert_citation(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[uri, {line, character}, key or reference dict] -> {"applied": bool}"""
    uri, position, key_or_ref = _expect(args, "citewise.insertCitation", "uri, position, key", 3)
    pos = convert.pos_from_proto(_structure(position, types.Position, "position"))
    edits = await ls.run_strict(features.insert_citation, uri, pos, key_or_ref)
    return await apply_edits(ls, edits, f"Cite {key_or_ref if isinstance(key_or_ref, str) else 'paper'}")


async def add_bib_entry(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[WorkspaceEdit, follow-up Command?] -> {"applied": bool}: run by completion items on accept."""
    if not 1 <= len(args) <= 2:
        raise JsonRpcInvalidParams(f"{ADD_BIB_ENTRY} expects [edit, command?], got {len(args)} arguments")
    edit = _structure(args[0], types.WorkspaceEdit, "edit")
    _create_missing_files(ls, edit)
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="Add .bib entry"))
    if len(args) == 2 and result.applied:
        follow_up = _structure(args[1], types.Command, "command")
        if follow_up.command not in COMMANDS:
            raise JsonRpcInvalidParams(f"{ADD_BIB_ENTRY}: unknown follow-up command {follow_up.command!r}")
        await COMMANDS[follow_up.command](ls, *(follow_up.arguments or []))
    return {"applied": result.applied}


async def add_from_identifier(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[uri, line, identifier] -> {"applied": bool}: the entry added to the .bib (an applyEdit of its own), the identifier cited."""
    uri, line, value = _expect(args, reference_checks.ADD_FROM_IDENTIFIER, "uri, line, identifier", 3)
    resolution = await ls.run_strict(reference_checks.resolve_identifier, value, lane="lookups")
    edits = await ls.run_strict(reference_checks.identifier_edits, uri, line, value, resolution.reference)
    bib_edits = {path: file_edits for path, file_edits in edits.items() if path.lower().endswith(".bib")}
    if bib_edits and not (await apply_edits(ls, bib_edits, f"Add {resolution.reference.key} to the .bib"))["applied"]:
        return {"applied": False}
    draft_edits = {path: file_edits for path, file_edits in edits.items() if path not in bib_edits}
    return await apply_edits(ls, draft_edits, f"Cite {resolution.reference.key}")


async def generate_bib(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[uri] -> {"path": the .bib written}"""
    (uri,) = _expect(args, "citewise.generateBib", "uri", 1)
    return {"path": await ls.run_strict(features.generate_bib, uri)}


async def search_papers(ls: CitewiseServer, *args: Any) -> list[JsonObject]:
    """[query, k?] -> [{key, title, authors, year, score, ...}]"""
    if not 1 <= len(args) <= 2 or not isinstance(args[0], str):
        raise JsonRpcInvalidParams("citewise.searchPapers expects [query, k?]")
    k = args[1] if len(args) == 2 else 10
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise JsonRpcInvalidParams(f"citewise.searchPapers: k must be a positive whole number, got {k!r}")
    return await ls.run_strict(features.search_papers, args[0], k)


async def reindex(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[] -> summary dict; progress "citewise: reindexing", cancellable."""
    progress = await WorkDone.begin(ls, "citewise: reindexing", cancellable=True)
    try:
        summary = await ls.run_strict(features.reindex, progress.report, progress.is_cancelled, lane="jobs")
    finally:
        progress.end("cancelled" if progress.is_cancelled() else "done")
    return summary


async def enrich_index(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[limit?] -> {candidates, enriched, notFound, unverifiable, rekeyed: {old: new}}; progress
    "citewise: enriching the index", cancellable. Asks the registries: run only on the user's request."""
    if len(args) > 1 or (args and (isinstance(args[0], bool) or not isinstance(args[0], int) or args[0] < 1)):
        raise JsonRpcInvalidParams(f"citewise.enrichIndex expects [limit?] with a positive whole limit, got {list(args)!r}")
    progress = await WorkDone.begin(ls, "citewise: enriching the index", cancellable=True)
    try:
        summary = await ls.run_strict(features.enrich_index, progress.report, progress.is_cancelled,
                                      args[0] if args else None, lane="jobs")
    finally:
        progress.end("cancelled" if progress.is_cancelled() else "done")
    return convert.enrich_summary_to_json(summary)


async def sync_zotero(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[] -> summary dict; progress "citewise: syncing Zotero"."""
    progress = await WorkDone.begin(ls, "citewise: syncing Zotero")
    try:
        summary = await ls.run_strict(features.sync_zotero, progress.report, lane="jobs")
    finally:
        progress.end("done")
    return summary


async def push_to_zotero(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[key] -> {"zoteroKey": the item's key in the user's library}"""
    (key,) = _expect(args, "citewise.pushToZotero", "key", 1)
    return convert.zotero_item_to_json(await ls.run_strict(features.push_to_zotero, key, lane="jobs"))


async def dismiss_suggestion(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[key] -> {"recorded": bool}: the author does not want this paper suggested again here."""
    (key,) = _expect(args, "citewise.dismissSuggestion", "key", 1)
    return await ls.run_strict(features.suggestion_feedback, "dismissed", key)


async def accept_suggestion(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[key] -> {"recorded": bool}: run by `Cite:` code actions once their edit is applied."""
    (key,) = _expect(args, "citewise.acceptSuggestion", "key", 1)
    return await ls.run_strict(features.suggestion_feedback, "accepted", key)


async def status(ls: CitewiseServer, *args: Any) -> JsonObject:
    """[] -> the features' status (index, model, Zotero) plus the server's own state."""
    project = await ls.ready()
    state = convert.ServerState(
        version=ls.version, model_state=ls.model_state, torch_imported=torch_imported(),
        torch_imported_at_initialize=ls.torch_imported_at_initialize, watching=ls.watching,
        background_work=ls.lanes.busy(), settings=ls.settings, pid=os.getpid(), python=sys.version.split()[0])
    if project is None:
        return convert.server_status_to_json(state, False, ls.project_error, None)
    return convert.server_status_to_json(state, True, None, await ls.run(features.status))


async def apply_edits(
    ls: CitewiseServer, edits: dict[str, list[TextEdit]], label: str, versions: dict[str, int | None] | None = None
) -> JsonObject:
    """Send `{path: [TextEdit]}` to the client as one workspace/applyEdit, labelled with `versions`
    (path -> the document version the edits were computed against), else the latest versions.

    A client without workspace/applyEdit gets the WorkspaceEdit in the reply to apply itself.
    A client that answers with an error (eglot, for a document that moved on) has not applied it.
    """
    if not edits:
        return {"applied": False}
    open_versions = ls.open_versions()
    open_versions.update({convert.uri_from_path(path): version for path, version in (versions or {}).items()})
    edit = convert.workspace_edit_to_proto(edits, convert.EditContext(ls.client_capabilities, open_versions))
    if not ls.client_flags.apply_edit:
        return {"applied": False, "edit": convert.to_json(edit)}
    _create_missing_files(ls, edit)
    try:
        result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    except JsonRpcException as error:
        ls.log(f"{label}: the editor refused the edit: {error.message}", types.MessageType.Warning)
        return {"applied": False}
    return {"applied": result.applied}


def _create_missing_files(ls: CitewiseServer, edit: types.WorkspaceEdit) -> None:
    """Create, empty, the files the edit writes into that neither exist nor get a CreateFile."""
    created_by_client = {c.uri for c in edit.document_changes or [] if isinstance(c, types.CreateFile)}
    edited = list(edit.changes or {}) + [
        c.text_document.uri for c in edit.document_changes or [] if isinstance(c, types.TextDocumentEdit)
    ]
    for uri in edited:
        path = convert.path_from_uri(uri)
        if uri not in created_by_client and not os.path.exists(path):
            with open(path, "x", encoding="utf-8"):
                ls.log(f"created {path}")


def _expect(args: tuple[Any, ...], command: str, names: str, count: int) -> tuple[Any, ...]:
    if len(args) != count:
        raise JsonRpcInvalidParams(f"{command} expects [{names}], got {len(args)} arguments")
    return args


def _structure(value: object, lsp_type: type[T], name: str) -> T:
    try:
        structured: T = convert.structure(value, lsp_type)
        return structured
    except Exception as error:
        raise JsonRpcInvalidParams(f"argument {name} is not a valid {lsp_type.__name__}: {error}") from error


COMMANDS: dict[str, Callable[..., Awaitable[Any]]] = {
    "citewise.insertCitation": insert_citation,
    "citewise.generateBib": generate_bib,
    "citewise.searchPapers": search_papers,
    "citewise.reindex": reindex,
    "citewise.enrichIndex": enrich_index,
    "citewise.syncZotero": sync_zotero,
    "citewise.pushToZotero": push_to_zotero,
    "citewise.status": status,
    "citewise.dismissSuggestion": dismiss_suggestion,
    "citewise.acceptSuggestion": accept_suggestion,
    ADD_BIB_ENTRY: add_bib_entry,
    reference_checks.ADD_FROM_IDENTIFIER: add_from_identifier,
}


def register(server: CitewiseServer) -> None:
    for name, handler in COMMANDS.items():
        server.command(name)(handler)
