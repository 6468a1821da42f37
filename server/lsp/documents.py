"""Open documents: sync into the features workspace, publish diagnostics, push suggestions.

After each change, diagnostics (of every open document when a .bib buffer changed) and
the `citewise/suggestions` notification are debounced (settings.debounce_ms): a newer
change cancels the pending or running job, and a result computed for an older version
of the document is dropped. A change that cites a paper completion just offered from the
index adds its .bib entry at once (features/accept.py), whatever the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from citewise.server.features import accept, completion, fit_checks, reference_checks
from citewise.server.features import diagnostics as diagnostics_feature
from citewise.server.features import suggestions as suggestions_feature
from citewise.server.features.diagnostics import Problem
from citewise.server.features.edits import VersionedEdits
from citewise.server.features.positions import Pos, utf16_len
from citewise.server.features.workspace import Workspace
from citewise.server.lsp import convert
from citewise.server.lsp.commands import apply_edits, push_to_zotero
from citewise.server.lsp.reference_checks import schedule_verification
from citewise.server.lsp.server import CitewiseServer

ACCEPT_CHECK_DELAY_S = 0.03
EDIT_ATTEMPTS = 5
MOVED_ON_WAIT_S = 5.0


async def did_open(ls: CitewiseServer, params: types.DidOpenTextDocumentParams) -> None:
    """The features receive the text with the diagnostics call (see `did_change`); then the
    completion tables start building (queued after a completion that came meanwhile)."""
    await publish_diagnostics(ls, params.text_document.uri, with_bib_files=True)
    await ls.run(completion.warm_up, params.text_document.uri)


async def did_change(ls: CitewiseServer, params: types.DidChangeTextDocumentParams) -> None:
    """The text reaches the features thread with the next features call (`CitewiseServer.run`
    sends every open document whose version moved): a burst of edits costs one copy of the
    document, not one per edit."""
    uri, version = params.text_document.uri, params.text_document.version
    if not params.content_changes:  # Neovim 0.7 sends some with none: nothing changed, the cursor is unknown
        return
    _check_accepted_soon(ls, uri)
    delay = _debounce_seconds(ls)
    edited_bib = uri.lower().endswith(".bib")
    for target in list(ls.workspace.text_documents) if edited_bib else [uri]:
        ls.debouncer.schedule(f"diagnostics {target}", delay, partial(publish_diagnostics, ls, target))
    if ls.settings is not None and ls.settings.suggest_notifications:
        cursor = _cursor_after(params.content_changes)
        ls.debouncer.schedule(f"suggestions {uri}", delay, lambda: push_suggestions(ls, uri, version, cursor))


async def did_close(ls: CitewiseServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.debouncer.cancel(f"diagnostics {uri}")
    ls.debouncer.cancel(f"suggestions {uri}")
    ls.sent_versions.pop(uri, None)
    await ls.run(_close, uri)
    if not uri.endswith(".bib"):
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _close(project: Workspace, uri: str) -> None:
    accept.forget_offers(project, uri)
    project.close_document(uri)


def _check_accepted_soon(ls: CitewiseServer, uri: str) -> None:
    """After ACCEPT_CHECK_DELAY_S, see whether the edits so far cited a paper completion offered
    (one check for a burst of edits; a check once started always finishes, so no entry is lost)."""
    if uri in ls.accept_checks:
        return
    ls.accept_checks.add(uri)

    async def check() -> None:
        ls.accept_checks.discard(uri)
        accepted = await ls.run(accept.accepted_papers, uri)
        if accepted is not None:
            await add_accepted_entries(ls, accepted)

    asyncio.get_running_loop().call_later(ACCEPT_CHECK_DELAY_S, lambda: ls.spawn(check()))


async def add_accepted_entries(ls: CitewiseServer, accepted: accept.AcceptedPapers) -> None:
    """A paper accepted from completion: its .bib entry through workspace/applyEdit (then, with
    zoteroPush, the paper into Zotero), as a cite code action adds it; then, in an edit of its
    own, the removal of what the client left in front of its key."""
    added = await _apply_current(ls, accept.entry_edits, accepted, f"Add {', '.join(accepted.keys)} to the .bib")
    await _apply_current(ls, accept.draft_edits, accepted, f"Complete {', '.join(accepted.keys)}")
    if added and ls.settings is not None and ls.settings.zotero_push:
        for key in accepted.keys:
            try:
                await push_to_zotero(ls, key)
            except JsonRpcException as error:
                ls.log(error.message, types.MessageType.Warning)


async def _apply_current(
    ls: CitewiseServer,
    compute: Callable[[Workspace, accept.AcceptedPapers], VersionedEdits],
    accepted: accept.AcceptedPapers,
    label: str,
) -> bool:
    """Compute the edits on the text the features hold and send them with its versions; when the
    client refused them because the user typed on, compute them again on the newer text (up to
    EDIT_ATTEMPTS times). Whether an edit was applied."""
    for _ in range(EDIT_ATTEMPTS):
        found = await ls.run(compute, accepted)
        if found is None or not found.edits:
            return False
        result = await apply_edits(ls, found.edits, label, found.versions)
        if result["applied"]:
            return True
        if "edit" in result or not await _moved_on(ls, found.versions):
            return False  # a client that applies no edits, or a user who refused this one
    ls.log(f"{label}: the editor refused the edit {EDIT_ATTEMPTS} times", types.MessageType.Warning)
    return False


async def _moved_on(ls: CitewiseServer, versions: dict[str, int | None]) -> bool:
    """Whether one of the documents the edits were computed on gets a newer version within
    MOVED_ON_WAIT_S (a client may send its change after refusing the edit: eglot waits for idle)."""
    uris = {convert.uri_from_path(path): version for path, version in versions.items() if version is not None}
    if not uris:
        return False
    deadline = asyncio.get_running_loop().time() + MOVED_ON_WAIT_S
    while True:
        current = ls.open_versions()
        if any(current.get(uri) != version for uri, version in uris.items()):
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.05)


def _debounce_seconds(ls: CitewiseServer) -> float:
    return (ls.settings.debounce_ms if ls.settings is not None else 300) / 1000


def _cursor_after(changes: Sequence[types.TextDocumentContentChangeEvent]) -> Pos:
    """Where the cursor most likely is: the end of the last change's inserted text."""
    last = changes[-1] if changes else None
    if not isinstance(last, types.TextDocumentContentChangePartial):
        lines = last.text.split("\n") if last is not None else [""]
        return Pos(len(lines) - 1, utf16_len(lines[-1]))
    start = last.range.start
    inserted = last.text.split("\n")
    if len(inserted) == 1:
        return Pos(start.line, start.character + utf16_len(inserted[0]))
    return Pos(start.line + len(inserted) - 1, utf16_len(inserted[-1]))


# --- diagnostics ----------------------------------------------------------------------


async def publish_diagnostics(ls: CitewiseServer, uri: str, with_bib_files: bool = False, verify: bool = True) -> None:
    """Diagnostics for `uri` (and, on open, for the .bib files its draft uses); then, with the
    `verify` setting on, a background check of entries not verified yet (see lsp/reference_checks).

    The .bib files' diagnostics are a features call of their own (a 5,000-entry file is read
    and indexed by line for them): a completion the editor asks for right after opening the
    draft is answered between the two."""
    _publish(ls, await ls.run(_diagnose, uri) or {})
    if with_bib_files:
        _publish(ls, await ls.run(_diagnose_bib_files, uri) or {})
    if verify:
        schedule_verification(ls, uri, partial(publish_diagnostics, ls, uri, with_bib_files=True, verify=False))


def _publish(ls: CitewiseServer, per_uri: dict[str, list[Problem]]) -> None:
    for target, problems in per_uri.items():
        diagnostics = [convert.diagnostic_to_proto(problem) for problem in problems]
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=target, diagnostics=diagnostics))


def _diagnose(project: Workspace, uri: str) -> dict[str, list[Problem]]:
    return {uri: diagnostics_feature.diagnostics(project, uri) + reference_checks.verify_problems(project, uri)
            + fit_checks.fit_problems(project, uri)}


def _diagnose_bib_files(project: Workspace, uri: str) -> dict[str, list[Problem]]:
    per_uri = {}
    for bib in project.bib_files_for(uri):
        bib_uri = convert.uri_from_path(bib.path)
        per_uri[bib_uri] = diagnostics_feature.diagnostics(project, bib_uri) + reference_checks.verify_problems(project, bib_uri)
    return per_uri


# --- suggestions as you write ---------------------------------------------------------


async def push_suggestions(ls: CitewiseServer, uri: str, version: int, cursor: Pos) -> None:
    """The queries are embedded on their lane first, while the features thread answers
    completions; the ranking then finds their embeddings cached. Background work that can
    pause waits meanwhile (`Lanes.foreground`)."""
    with ls.lanes.foreground():
        embedding = await ls.run(suggestions_feature.embed_ahead, uri, cursor)
        if embedding is not None:
            await asyncio.wrap_future(embedding)
        suggestion_set = await ls.run(suggestions_feature.suggest, uri, cursor)
    document = ls.workspace.text_documents.get(uri)
    if suggestion_set is None or document is None or document.version != version:
        return
    ls.notify_suggestions(convert.suggestions_to_json(suggestion_set))


def register(server: CitewiseServer) -> None:
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
