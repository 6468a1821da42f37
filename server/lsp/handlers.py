"""Language feature handlers: protocol in, one features call on the features thread, protocol out.

Every handler answers: a failing feature yields the empty result (and a log message),
except rename, whose errors (a bad new key) are shown to the user as an LSP error.
"""

from __future__ import annotations

from lsprotocol import types

from citewise.bib.index.location import display_location, is_database_url
from citewise.server.features import actions, hover, identifier_completion, navigation, reference_checks
from citewise.server.features.workspace import Workspace
from citewise.server.lsp import convert
from citewise.server.lsp.reference_checks import resolve_typed_identifier
from citewise.server.lsp.server import CitewiseServer

TRIGGER_CHARACTERS = ["{", ",", "@"]


async def complete(ls: CitewiseServer, params: types.CompletionParams) -> convert.WireJSON:
    """A CompletionList, sent as the JSON convert builds (see `convert.WireJSON`)."""
    uri, pos = params.text_document.uri, convert.pos_from_proto(params.position)
    await resolve_typed_identifier(ls, uri, pos)
    candidates = await ls.run(identifier_completion.complete, uri, pos) or []
    options = convert.CompletionOptions.of(ls.client_capabilities)
    return convert.completion_list_to_json(candidates, ls.document_number(uri), options)


async def resolve_completion(ls: CitewiseServer, item: types.CompletionItem) -> types.CompletionItem:
    request = convert.resolve_request_from_proto(item)
    uri = ls.numbered_document(request[0]) if request is not None else None
    if request is None or uri is None:
        return item
    documentation = await ls.run(identifier_completion.documentation, uri, request[1])
    return convert.resolved_item_to_proto(item, documentation)


async def hover_key(ls: CitewiseServer, params: types.HoverParams) -> types.Hover | None:
    info = await ls.run(hover.hover, params.text_document.uri, convert.pos_from_proto(params.position))
    return convert.hover_to_proto(info)


async def definition(ls: CitewiseServer, params: types.DefinitionParams) -> list[types.Location]:
    locations = await ls.run(
        navigation.definition, params.text_document.uri, convert.pos_from_proto(params.position)
    ) or []
    return [convert.location_to_proto(location) for location in locations]


async def references(ls: CitewiseServer, params: types.ReferenceParams) -> list[types.Location]:
    uri, pos = params.text_document.uri, convert.pos_from_proto(params.position)
    locations = await ls.run(navigation.references, uri, pos, params.context.include_declaration) or []
    return [convert.location_to_proto(location) for location in locations]


async def prepare_rename(ls: CitewiseServer, params: types.PrepareRenameParams) -> types.Range | None:
    range_ = await ls.run(navigation.prepare_rename, params.text_document.uri, convert.pos_from_proto(params.position))
    return convert.range_to_proto(range_) if range_ else None


async def rename(ls: CitewiseServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    edits = await ls.run_strict(
        navigation.rename, params.text_document.uri, convert.pos_from_proto(params.position), params.new_name
    )
    if not edits:
        return None
    return convert.workspace_edit_to_proto(edits, convert.EditContext(ls.client_capabilities, ls.open_versions()))


async def document_symbols(ls: CitewiseServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    symbols = await ls.run(navigation.bib_symbols, params.text_document.uri) or []
    return [convert.document_symbol_to_proto(symbol) for symbol in symbols if symbol.location is not None]


async def workspace_symbols(ls: CitewiseServer, params: types.WorkspaceSymbolParams) -> list[types.WorkspaceSymbol]:
    symbols = await ls.run(navigation.workspace_symbols, params.query) or []
    index_uri = await ls.run(_index_uri) or ""
    return [convert.workspace_symbol_to_proto(symbol, index_uri) for symbol in symbols]


def _index_uri(project: Workspace) -> str:
    """Where index-only papers point: the index file, or the database (named without its password)."""
    location = project.index_path
    return display_location(location) if is_database_url(location) else convert.uri_from_path(str(location))


async def code_actions(ls: CitewiseServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    problems = [convert.problem_from_proto(d) for d in params.context.diagnostics if d.source == "citewise"]
    uri, range_ = params.text_document.uri, convert.range_from_proto(params.range)
    found = await ls.run(actions.code_actions, uri, range_, problems) or []
    found += await ls.run(reference_checks.code_actions, uri, range_, problems) or []
    context = convert.EditContext(ls.client_capabilities, ls.open_versions())
    return [convert.code_action_to_proto(action, context) for action in found]


def register(server: CitewiseServer) -> None:
    server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=True),
    )(complete)
    server.feature(types.COMPLETION_ITEM_RESOLVE)(resolve_completion)
    server.feature(types.TEXT_DOCUMENT_HOVER)(hover_key)
    server.feature(types.TEXT_DOCUMENT_DEFINITION)(definition)
    server.feature(types.TEXT_DOCUMENT_REFERENCES)(references)
    server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)(prepare_rename)
    server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))(rename)
    server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(document_symbols)
    server.feature(types.WORKSPACE_SYMBOL)(workspace_symbols)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Refactor]),
    )(code_actions)
