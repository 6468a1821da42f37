"""The one place where plain feature data becomes lsprotocol types and back (texlab's to_proto).

Features speak paths, `Pos`/`Range` in UTF-16 columns and small dataclasses; the protocol
speaks URIs and lsprotocol types. Handlers call `from_proto` helpers on the way in and
`to_proto` helpers on the way out and contain no conversion logic of their own.
"""

from __future__ import annotations

import os
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter

from citewise.server.drafts.uris import path_to_uri, uri_to_path
from citewise.server.features.positions import Location, Pos, Range, TextEdit

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

_converter = default_converter()


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


def problem_fields_from_proto(diagnostic: types.Diagnostic) -> dict[str, Any]:
    """The `Problem` fields a client hands back in a code-action context."""
    return {
        "range": range_from_proto(diagnostic.range),
        "severity": _SEVERITY_NAME.get(diagnostic.severity, "info"),
        "message": diagnostic.message,
        "code": diagnostic.code if isinstance(diagnostic.code, str) else "",
        "data": diagnostic.data if isinstance(diagnostic.data, dict) else {},
    }


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


def command_to_proto(command) -> types.Command:
    return types.Command(title=command.title, command=command.name, arguments=list(command.arguments or []))


def completion_item_to_proto(candidate, replace: Range | None) -> types.CompletionItem:
    """One completion item: label = key. Accepting a paper from the index adds its .bib entry
    through the server noticing the key in the draft (features/accept.py), not a command."""
    text_edit = types.TextEdit(range=range_to_proto(replace), new_text=candidate.key) if replace else None
    return types.CompletionItem(
        label=candidate.key,
        kind=types.CompletionItemKind.Reference,
        detail=candidate.detail,
        documentation=markdown(candidate.documentation_md) if candidate.documentation_md else None,
        filter_text=candidate.filter_text,
        sort_text=candidate.sort_text,
        text_edit=text_edit,
        insert_text=None if text_edit else candidate.key,
    )


def hover_to_proto(info) -> types.Hover | None:
    if info is None:
        return None
    return types.Hover(contents=markdown(info.markdown), range=range_to_proto(info.range) if info.range else None)


def diagnostic_to_proto(problem) -> types.Diagnostic:
    return types.Diagnostic(
        range=range_to_proto(problem.range),
        severity=_SEVERITY.get(problem.severity, types.DiagnosticSeverity.Information),
        message=problem.message,
        code=problem.code or None,
        source="citewise",
        data=problem.data or None,
        tags=_DIAGNOSTIC_TAGS.get(problem.code),
    )


def code_action_to_proto(action, context: EditContext) -> types.CodeAction:
    return types.CodeAction(
        title=action.title,
        kind=_ACTION_KIND.get(action.kind, types.CodeActionKind.QuickFix),
        edit=workspace_edit_to_proto(action.edits, context) if action.edits else None,
        command=command_to_proto(action.command) if action.command else None,
    )


def document_symbol_to_proto(symbol) -> types.DocumentSymbol:
    range_ = range_to_proto(symbol.location.range)
    return types.DocumentSymbol(
        name=symbol.name,
        detail=symbol.detail or None,
        kind=_SYMBOL_KIND.get(symbol.kind, types.SymbolKind.Field),
        range=range_,
        selection_range=range_,
    )


def workspace_symbol_to_proto(symbol, index_uri: str) -> types.WorkspaceSymbol:
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


def suggestions_to_json(suggestion_set) -> dict[str, Any]:
    """The `citewise/suggestions` notification: {uri, range, items: [{key,title,authors,year,score,inBib}]}.

    `range` (the sentence) is null when the cursor is in no sentence, for example in an emptied document.
    """
    range_ = range_to_proto(suggestion_set.range) if suggestion_set.range is not None else None
    return {
        "uri": suggestion_set.uri,
        "range": range_ and {
            "start": {"line": range_.start.line, "character": range_.start.character},
            "end": {"line": range_.end.line, "character": range_.end.character},
        },
        "items": [item.to_json() for item in suggestion_set.items],
    }
