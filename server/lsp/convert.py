"""The one place where plain feature data becomes lsprotocol types and back (texlab's to_proto).

Features speak paths, `Pos`/`Range` in UTF-16 columns and small dataclasses; the protocol
speaks URIs and lsprotocol types. Handlers call `from_proto` helpers on the way in and
`to_proto` helpers on the way out and contain no conversion logic of their own.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.protocol import default_converter

from citewise.server.drafts.uris import path_to_uri, uri_to_path
from citewise.server.features.actions import Action
from citewise.server.features.completion import CompletionCandidate
from citewise.server.features.diagnostics import Problem
from citewise.server.features.hover import HoverInfo
from citewise.server.features.navigation import Symbol
from citewise.server.features.positions import Command, Location, Pos, Range, TextEdit
from citewise.server.features.settings import Settings
from citewise.server.features.suggestions import SuggestionItem, SuggestionSet
from citewise.server.features.workspace import WorkspaceStatus

if TYPE_CHECKING:
    from citewise.bib.registries.enrich import EnrichSummary

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
_SEVERITY_NAME = {value: name for name, value in _SEVERITY.items()}

_ACTION_KIND = {
    "quickfix": types.CodeActionKind.QuickFix,
    "refactor": types.CodeActionKind.Refactor,
}

_SYMBOL_KIND = {"entry": types.SymbolKind.Field, "paper": types.SymbolKind.File}

_DIAGNOSTIC_TAGS = {"unused-entry": [types.DiagnosticTag.Unnecessary]}

_converter = default_converter()  # type: ignore[no-untyped-call]

ADD_BIB_ENTRY = "citewise.addBibEntry"


# --- protocol -> features -------------------------------------------------------------


def pos_from_proto(position: types.Position) -> Pos:
    return Pos(position.line, position.character)


def range_from_proto(range_: types.Range) -> Range:
    return Range(pos_from_proto(range_.start), pos_from_proto(range_.end))


def path_from_uri(uri: str) -> str:
    return uri_to_path(uri)


def structure(value: Any, lsp_type: type) -> Any:
    """A JSON value (a command argument) as the lsprotocol type it encodes."""
    return _converter.structure(value, lsp_type)


def problem_from_proto(diagnostic: types.Diagnostic) -> Problem:
    """A diagnostic the client hands back in a code-action context, as the features' `Problem`."""
    severity = _SEVERITY_NAME.get(diagnostic.severity, "info") if diagnostic.severity else "info"
    return Problem(
        range=range_from_proto(diagnostic.range),
        severity=severity,
        message=diagnostic.message,
        code=diagnostic.code if isinstance(diagnostic.code, str) else "",
        data=diagnostic.data if isinstance(diagnostic.data, dict) else {},
    )


# --- features -> protocol -------------------------------------------------------------


def uri_from_path(path: str) -> str:
    return path_to_uri(path)


def pos_to_proto(pos: Pos) -> types.Position:
    return types.Position(line=pos.line, character=pos.col)


def range_to_proto(range_: Range) -> types.Range:
    return types.Range(start=pos_to_proto(range_.start), end=pos_to_proto(range_.end))


def text_edit_to_proto(edit: TextEdit) -> types.TextEdit:
    return types.TextEdit(range=range_to_proto(edit.range), new_text=edit.new_text)


def location_to_proto(location: Location) -> types.Location:
    return types.Location(uri=uri_from_path(location.path), range=range_to_proto(location.range))


def to_json(value: Any) -> Any:
    """An lsprotocol object as JSON, for command arguments."""
    return _converter.unstructure(value)


def markdown(text: str) -> types.MarkupContent:
    return types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)


class EditContext:
    """What a workspace edit may contain for this client, and the versions of open documents."""

    def __init__(self, capabilities: types.ClientCapabilities, open_versions: dict[str, int | None]):
        edit_caps = capabilities.workspace.workspace_edit if capabilities.workspace else None
        self.document_changes = bool(edit_caps and edit_caps.document_changes)
        operations = (edit_caps.resource_operations or []) if edit_caps else []
        self.can_create = self.document_changes and types.ResourceOperationKind.Create in operations
        self.open_versions = open_versions


def workspace_edit_to_proto(edits: dict[str, list[TextEdit]], context: EditContext) -> types.WorkspaceEdit:
    """A WorkspaceEdit: documentChanges (with CreateFile for new files) when the client supports them."""
    if not context.document_changes:
        return types.WorkspaceEdit(
            changes={uri_from_path(path): [text_edit_to_proto(e) for e in file_edits] for path, file_edits in edits.items()}
        )
    changes: list[Any] = []
    for path, file_edits in edits.items():
        uri = uri_from_path(path)
        if context.can_create and not os.path.exists(path):
            changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True)))
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=context.open_versions.get(uri)),
                edits=[text_edit_to_proto(e) for e in file_edits],
            )
        )
    return types.WorkspaceEdit(document_changes=changes)


def command_to_proto(command: Command) -> types.Command:
    return types.Command(title=command.title, command=command.name, arguments=list(command.arguments or []))


def add_bib_entry_command(edit: types.WorkspaceEdit, follow_up: types.Command | None, title: str) -> types.Command:
    """citewise.addBibEntry: the client runs it, the server sends `edit` as a workspace/applyEdit
    of its own (which the editor setups save), then runs `follow_up`."""
    arguments: list[Any] = [to_json(edit)]
    if follow_up is not None:
        arguments.append(to_json(follow_up))
    return types.Command(title=title, command=ADD_BIB_ENTRY, arguments=arguments)


@dataclass(frozen=True)
class CompletionOptions:
    """How this client gets completion items: which fields wait for completionItem/resolve."""

    lazy_documentation: bool = False

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities) -> CompletionOptions:
        document = capabilities.text_document
        item = document.completion.completion_item if document and document.completion else None
        resolvable = item.resolve_support.properties if item and item.resolve_support else []
        return cls(lazy_documentation="documentation" in resolvable)


class WireJSON(dict[str, Any]):
    """A result this module built in its JSON form: the server's converter (`converter()`) sends it
    as it is. Completion answers every keystroke with up to 40 items; as lsprotocol objects, built
    and then unstructured by cattrs, they cost the protocol thread about 1 ms per reply, the JSON
    a tenth of that. tests/test_lsp_convert.py checks that lsprotocol reads it back unchanged."""


def converter() -> Any:
    """pygls' converter for the server, passing `WireJSON` through unchanged."""
    wire_converter = default_converter()  # type: ignore[no-untyped-call]
    wire_converter.register_unstructure_hook(WireJSON, lambda value: value)
    return wire_converter


def _range_json(range_: Range) -> dict[str, Any]:
    return {"start": {"line": range_.start.line, "character": range_.start.col},
            "end": {"line": range_.end.line, "character": range_.end.col}}


def completion_list_to_json(candidates: list[CompletionCandidate], document: int, options: CompletionOptions) -> WireJSON:
    """A CompletionList, always incomplete (completion.py says why), as JSON: one item per candidate.
    label = key; textEdit writes `insert_text` over `replace_range`; `additional_text_edits` (same
    document: a bibliography declaration) go along. Accepting a paper from the index adds its .bib
    entry through the server noticing the key in the draft (features/accept.py), not a command.
    Documentation waits for resolve when the client says it resolves it; then `data` is `document`,
    the number the server gave the draft's URI (`CitewiseServer.document_number`), and resolve
    reads the key from the label: a few bytes per item instead of the URI and the key again
    (a quarter of the reply)."""
    items = []
    for candidate in candidates:
        new_text = candidate.insert_text or candidate.key
        item: dict[str, Any] = {"label": candidate.key, "kind": types.CompletionItemKind.Reference.value}
        if candidate.detail:
            item["detail"] = candidate.detail
        if candidate.documentation_md and not options.lazy_documentation:
            item["documentation"] = {"kind": types.MarkupKind.Markdown.value, "value": candidate.documentation_md}
        item["sortText"] = candidate.sort_text
        item["filterText"] = candidate.filter_text
        if candidate.replace_range is not None:
            item["textEdit"] = {"range": _range_json(candidate.replace_range), "newText": new_text}
        else:
            item["insertText"] = new_text
        if candidate.additional_text_edits:
            item["additionalTextEdits"] = [{"range": _range_json(edit.range), "newText": edit.new_text}
                                           for edit in candidate.additional_text_edits]
        if options.lazy_documentation:
            item["data"] = document
        items.append(item)
    return WireJSON(isIncomplete=True, items=items)


def resolve_request_from_proto(item: types.CompletionItem) -> tuple[int, str] | None:
    """(document number, key) of an item being resolved, None for an item citewise did not send."""
    data = item.data
    if isinstance(data, int) and not isinstance(data, bool) and data > 0:
        return data, item.label
    return None


def resolved_item_to_proto(item: types.CompletionItem, documentation_md: str | None) -> types.CompletionItem:
    """`item` with its documentation filled in (unchanged when there is none)."""
    if documentation_md:
        item.documentation = markdown(documentation_md)
    return item


def hover_to_proto(info: HoverInfo | None) -> types.Hover | None:
    if info is None:
        return None
    return types.Hover(contents=markdown(info.markdown), range=range_to_proto(info.range) if info.range else None)


def diagnostic_to_proto(problem: Problem) -> types.Diagnostic:
    return types.Diagnostic(
        range=range_to_proto(problem.range),
        severity=_SEVERITY.get(problem.severity, types.DiagnosticSeverity.Information),
        message=problem.message,
        code=problem.code or None,
        source="citewise",
        data=problem.data or None,
        tags=_DIAGNOSTIC_TAGS.get(problem.code),
    )


def code_action_to_proto(action: Action, context: EditContext) -> types.CodeAction:
    """An action that edits a draft and a .bib carries the draft's edit and runs citewise.addBibEntry
    for the .bib's, as accepting a completion does: every entry citewise adds to a .bib arrives in a
    workspace/applyEdit of its own, which the editor setups save."""
    bib_edits = {path: edits for path, edits in action.edits.items() if path.lower().endswith(".bib")}
    draft_edits = action.edits
    command = command_to_proto(action.command) if action.command else None
    if bib_edits and len(bib_edits) < len(action.edits):
        draft_edits = {path: edits for path, edits in action.edits.items() if path not in bib_edits}
        command = add_bib_entry_command(workspace_edit_to_proto(bib_edits, context), command, "Add to the .bib")
    return types.CodeAction(
        title=action.title,
        kind=_ACTION_KIND.get(action.kind, types.CodeActionKind.QuickFix),
        edit=workspace_edit_to_proto(draft_edits, context) if draft_edits else None,
        command=command,
    )


def document_symbol_to_proto(symbol: Symbol) -> types.DocumentSymbol:
    """A .bib entry as an outline symbol (handlers pass only symbols with a location)."""
    assert symbol.location is not None
    range_ = range_to_proto(symbol.location.range)
    return types.DocumentSymbol(
        name=symbol.name,
        detail=symbol.detail or None,
        kind=_SYMBOL_KIND.get(symbol.kind, types.SymbolKind.Field),
        range=range_,
        selection_range=range_,
    )


def workspace_symbol_to_proto(symbol: Symbol, index_uri: str) -> types.WorkspaceSymbol:
    """A paper as a symbol; one known only to the index points at the start of the index file.

    Every client accepts a full Location; a range-less one needs resolve support that
    Neovim lacks, and the paper has no place in any text file to point to.
    """
    if symbol.location is not None:
        location = location_to_proto(symbol.location)
    else:
        start = types.Position(line=0, character=0)
        location = types.Location(uri=index_uri, range=types.Range(start=start, end=start))
    return types.WorkspaceSymbol(
        name=symbol.name,
        kind=_SYMBOL_KIND.get(symbol.kind, types.SymbolKind.File),
        location=location,
        container_name=symbol.detail or None,
    )


def suggestion_item_to_json(item: SuggestionItem) -> dict[str, Any]:
    return {"key": item.key, "title": item.title, "authors": item.authors, "year": item.year,
            "score": item.score, "inBib": item.in_bib, "reason": item.reason}


def suggestions_to_json(suggestion_set: SuggestionSet) -> dict[str, Any]:
    """The `citewise/suggestions` notification: {uri, range, items: [{key,title,authors,year,score,inBib,reason}]};
    `range` (the sentence) is null when the cursor is in no sentence."""
    range_ = suggestion_set.range
    return {
        "uri": suggestion_set.uri,
        "range": None if range_ is None else {
            "start": {"line": range_.start.line, "character": range_.start.col},
            "end": {"line": range_.end.line, "character": range_.end.col},
        },
        "items": [suggestion_item_to_json(item) for item in suggestion_set.items],
    }


def status_to_json(status: WorkspaceStatus) -> dict[str, Any]:
    """The features' part of the `citewise.status` command's answer."""
    return {
        "indexPath": status.index_path,
        "indexOpen": status.index_open,
        "indexCount": status.index_count,
        "modelReady": status.model_ready,
        "model": status.model,
        "problem": status.problem,
        "openDocuments": status.open_documents,
        "textsReceived": status.texts_received,
        "bibFiles": [{"path": bib.path, "entries": bib.entries, "errors": bib.errors,
                      "titlesEmbedded": bib.titles_embedded} for bib in status.bib_files],
    }


def enrich_summary_to_json(summary: EnrichSummary) -> dict[str, Any]:
    """The `citewise.enrichIndex` command's answer."""
    return {"candidates": summary.candidates, "enriched": summary.enriched, "notFound": summary.not_found,
            "unverifiable": summary.unverifiable, "rekeyed": dict(summary.rekeyed)}


def zotero_item_to_json(item_key: str) -> dict[str, Any]:
    """The `citewise.pushToZotero` command's answer: the item's key in the user's library."""
    return {"zoteroKey": item_key}


@dataclass(frozen=True)
class ServerState:
    """The language server's own part of the `citewise.status` command's answer."""

    version: str
    model_state: str
    torch_imported: bool
    torch_imported_at_initialize: bool | None
    watching: str
    background_work: list[str]
    settings: Settings | None
    pid: int
    python: str


def server_status_to_json(state: ServerState, ready: bool, error: str | None,
                          features: WorkspaceStatus | None) -> dict[str, Any]:
    """The `citewise.status` command's answer: the server's own state and, once the workspace is
    `ready`, the features' status (None when it could not be read); else the `error` that stopped it."""
    server = {
        "version": state.version,
        "modelState": state.model_state,
        "torchImported": state.torch_imported,
        "torchImportedAtInitialize": state.torch_imported_at_initialize,
        "watching": state.watching,
        "backgroundWork": state.background_work,
        "settings": asdict(state.settings) if state.settings is not None else None,
        "pid": state.pid,
        "python": state.python,
    }
    if not ready:
        return {"ready": False, "error": error, **server}
    return {"ready": True, **(status_to_json(features) if features is not None else {}), **server}
