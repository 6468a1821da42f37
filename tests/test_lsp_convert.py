"""server/lsp/convert.py field by field: every feature field reaches the protocol object."""

from __future__ import annotations

import json

from lsprotocol import types

from citewise.server.features.actions import Action
from citewise.server.features.completion import CompletionCandidate
from citewise.server.features.diagnostics import Problem
from citewise.server.features.hover import HoverInfo
from citewise.server.features.navigation import Symbol
from citewise.server.features.positions import Command, Location, Pos, Range, TextEdit
from citewise.server.features.suggestions import SuggestionItem, SuggestionSet
from citewise.server.features.workspace import BibStatus, WorkspaceStatus
from citewise.server.lsp import convert

R = Range(Pos(1, 2), Pos(3, 4))
PROTO_R = types.Range(start=types.Position(line=1, character=2), end=types.Position(line=3, character=4))


def _capabilities(document_changes=True, create=True, resolve=()) -> types.ClientCapabilities:
    operations = [types.ResourceOperationKind.Create] if create else []
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=document_changes,
                                                                 resource_operations=operations)),
        text_document=types.TextDocumentClientCapabilities(completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(
                resolve_support=types.ClientCompletionItemResolveOptions(properties=list(resolve))))),
    )


def _context(**kwargs) -> convert.EditContext:
    return convert.EditContext(_capabilities(**kwargs), {})


def _candidate(**overrides) -> CompletionCandidate:
    fields = dict(key="jones2019", detail="Jones 2019", documentation_md="**Title**", filter_text="jones title",
                  sort_text="100001", in_bib=False, insert_text="@jones2019", replace_range=R,
                  additional_text_edits=[TextEdit(Range(Pos(0, 0), Pos(0, 0)), "bibliography: references.bib\n")],
                  score=0.5)
    fields.update(overrides)
    return CompletionCandidate(**fields)


def test_positions_and_ranges_round_trip():
    assert convert.range_to_proto(R) == PROTO_R
    assert convert.range_from_proto(PROTO_R) == R
    assert convert.pos_from_proto(types.Position(line=7, character=9)) == Pos(7, 9)


def test_paths_and_uris_round_trip(tmp_path):
    path = str(tmp_path / "a b" / "refs.bib")
    uri = convert.uri_from_path(path)
    assert uri.startswith("file://") and "a%20b" in uri
    assert convert.path_from_uri(uri) == path


def _items(candidates, options: convert.CompletionOptions | None = None) -> list[types.CompletionItem]:
    """The completion list as the client reads it, through lsprotocol's own converter: every field
    of the JSON has its LSP name and type, and reads back unchanged."""
    wire = convert.completion_list_to_json(candidates, 3, options or convert.CompletionOptions())
    sent = json.loads(json.dumps(convert.converter().unstructure(wire)))
    completion_list = convert.structure(sent, types.CompletionList)
    assert convert.to_json(completion_list) == sent
    assert completion_list.is_incomplete is True
    return completion_list.items


def test_completion_item_carries_every_field():
    [item] = _items([_candidate()])
    assert item.label == "jones2019"
    assert item.kind == types.CompletionItemKind.Reference
    assert item.detail == "Jones 2019"
    assert item.documentation.value == "**Title**" and item.documentation.kind == types.MarkupKind.Markdown
    assert item.filter_text == "jones title" and item.sort_text == "100001"
    assert item.text_edit.new_text == "@jones2019"  # the Pandoc `@` after `; ` is kept
    assert item.text_edit.range == PROTO_R
    assert item.insert_text is None
    assert [(e.new_text, e.range.start.line) for e in item.additional_text_edits] == [("bibliography: references.bib\n", 0)]
    assert item.command is None  # the .bib entry comes when the key lands in the draft (features/accept.py)
    assert item.data is None


def test_completion_item_without_range_inserts_its_text():
    [item] = _items([_candidate(replace_range=None, additional_text_edits=[], detail="")])
    assert item.text_edit is None and item.insert_text == "@jones2019"
    assert item.additional_text_edits is None and item.detail is None


def test_completion_list_is_sent_as_built():
    wire = convert.completion_list_to_json([_candidate()] * 3, 3, convert.CompletionOptions())
    assert convert.converter().unstructure(wire) is wire  # no walk over it by cattrs


def test_documentation_waits_for_resolve_only_when_the_client_resolves_it():
    lazy = convert.CompletionOptions.of(_capabilities(resolve=["documentation", "detail"]))
    eager = convert.CompletionOptions.of(_capabilities(resolve=[]))
    assert lazy.lazy_documentation and not eager.lazy_documentation
    [item] = _items([_candidate()], lazy)
    assert item.documentation is None and item.detail == "Jones 2019"
    assert item.data == 3 and convert.resolve_request_from_proto(item) == (3, "jones2019")
    resolved = convert.resolved_item_to_proto(item, "**Title**")
    assert resolved.documentation.value == "**Title**"
    for junk in (["junk"], {"uri": "file:///d.md"}, 0, True, None):
        assert convert.resolve_request_from_proto(types.CompletionItem(label="x", data=junk)) is None


def test_workspace_edit_with_and_without_document_changes(tmp_path):
    new_file = str(tmp_path / "new.bib")
    edits = {new_file: [TextEdit(R, "x")]}
    with_changes = convert.workspace_edit_to_proto(edits, _context())
    create, change = with_changes.document_changes
    assert isinstance(create, types.CreateFile) and create.uri == convert.uri_from_path(new_file)
    assert change.edits[0].new_text == "x" and change.edits[0].range == PROTO_R
    plain = convert.workspace_edit_to_proto(edits, _context(document_changes=False))
    assert plain.changes == {convert.uri_from_path(new_file): [types.TextEdit(range=PROTO_R, new_text="x")]}


def test_diagnostic_round_trips_through_a_code_action_context():
    problem = Problem(R, "warning", "unused entry", "unused-entry", {"key": "a"})
    diagnostic = convert.diagnostic_to_proto(problem)
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.message == "unused entry" and diagnostic.code == "unused-entry"
    assert diagnostic.source == "citewise" and diagnostic.data == {"key": "a"}
    assert diagnostic.tags == [types.DiagnosticTag.Unnecessary]
    assert convert.problem_from_proto(diagnostic) == problem


def test_code_action_sends_its_bib_edit_through_add_bib_entry(tmp_path):
    draft, bib = str(tmp_path / "d.tex"), str(tmp_path / "refs.bib")
    action = Action("Cite: X", "quickfix", {draft: [TextEdit(R, "\\cite{x}")], bib: [TextEdit(R, "@misc{x,}")]},
                    Command("Add to Zotero", "citewise.pushToZotero", ["x"]))
    proto = convert.code_action_to_proto(action, _context(create=False))
    assert proto.title == "Cite: X" and proto.kind == types.CodeActionKind.QuickFix
    assert [c.text_document.uri for c in proto.edit.document_changes] == [convert.uri_from_path(draft)]
    assert proto.command.command == convert.ADD_BIB_ENTRY
    assert proto.command.arguments[1]["command"] == "citewise.pushToZotero"
    only_draft = convert.code_action_to_proto(Action("Fix", "refactor", {draft: [TextEdit(R, "y")]}), _context())
    assert only_draft.kind == types.CodeActionKind.Refactor and only_draft.command is None


def test_hover_symbols_and_locations():
    hover = convert.hover_to_proto(HoverInfo("**card**", R))
    assert hover.contents.value == "**card**" and hover.range == PROTO_R
    assert convert.hover_to_proto(None) is None
    location = Location("/tmp/refs.bib", R)
    symbol = convert.document_symbol_to_proto(Symbol("key", "Title", "entry", location))
    assert (symbol.name, symbol.detail, symbol.kind, symbol.range) == ("key", "Title", types.SymbolKind.Field, PROTO_R)
    paper = convert.workspace_symbol_to_proto(Symbol("p", "Paper", "paper", None), "file:///index.sqlite")
    assert paper.location.uri == "file:///index.sqlite" and paper.container_name == "Paper"
    assert convert.location_to_proto(location).uri == convert.uri_from_path("/tmp/refs.bib")


def test_suggestions_and_status_as_json():
    suggestion = SuggestionItem("k", "Title", "Smith", "2020", 0.5, True, "close to the sentence")
    payload = convert.suggestions_to_json(SuggestionSet("file:///d.tex", R, [suggestion]))
    assert payload == {"uri": "file:///d.tex",
                       "range": {"start": {"line": 1, "character": 2}, "end": {"line": 3, "character": 4}},
                       "items": [{"key": "k", "title": "Title", "authors": "Smith", "year": "2020",
                                  "score": 0.5, "inBib": True, "reason": "close to the sentence"}]}
    status = WorkspaceStatus("/i.sqlite", True, 3, False, "m", None, 2, 7, [BibStatus("/r.bib", 5, 1, True)])
    assert convert.status_to_json(status) == {
        "indexPath": "/i.sqlite", "indexOpen": True, "indexCount": 3, "modelReady": False, "model": "m",
        "problem": None, "openDocuments": 2, "textsReceived": 7, "bibFiles": [{"path": "/r.bib", "entries": 5, "errors": 1, "titlesEmbedded": True}]}


def test_command_summaries_as_json():
    from citewise.bib.registries.enrich import EnrichSummary

    summary = EnrichSummary(candidates=6, enriched=4, not_found=1, unverifiable=1, rekeyed={"old": "new2020"})
    assert convert.enrich_summary_to_json(summary) == {"candidates": 6, "enriched": 4, "notFound": 1,
                                                       "unverifiable": 1, "rekeyed": {"old": "new2020"}}
    assert convert.zotero_item_to_json("ABCD1234") == {"zoteroKey": "ABCD1234"}


def test_server_status_as_json_before_and_after_the_workspace_is_ready():
    from citewise.server.features.settings import Settings

    state = convert.ServerState(version="0.1.0", model_state="ready", torch_imported=False,
                                torch_imported_at_initialize=False, watching="client", background_work=["embed"],
                                settings=Settings(index_path="/i.sqlite"), pid=42, python="3.11.2")
    own = {"version": "0.1.0", "modelState": "ready", "torchImported": False, "torchImportedAtInitialize": False,
           "watching": "client", "backgroundWork": ["embed"], "pid": 42, "python": "3.11.2"}
    not_ready = convert.server_status_to_json(state, False, "no index", None)
    assert not_ready["settings"]["index_path"] == "/i.sqlite"
    assert {k: v for k, v in not_ready.items() if k != "settings"} == {"ready": False, "error": "no index", **own}
    status = WorkspaceStatus("/i.sqlite", True, 3, True, "m", None, 1, 2, [])
    ready = convert.server_status_to_json(state, True, None, status)
    assert ready == {"ready": True, **convert.status_to_json(status), **own, "settings": not_ready["settings"]}
    unread = convert.server_status_to_json(state, True, None, None)
    assert unread["ready"] is True and "indexPath" not in unread and unread["modelState"] == "ready"
