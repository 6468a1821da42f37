"""Code actions: fixes for undefined keys and `Cite: …` actions for the sentence at the cursor."""

from __future__ import annotations

import os
from dataclasses import dataclass

from citewise.server.features.diagnostics import CLAIM, UNDEFINED, Problem
from citewise.server.features.edits import cite_edits, target_bib_path
from citewise.server.features.key_lookup import draft_bib_keys, near_keys
from citewise.server.features.positions import Command, Range, TextEdit
from citewise.server.features.suggestions import cite_action_parts, suggestions_at
from citewise.server.features.workspace import Document, Workspace

MAX_KEY_FIXES = 3


@dataclass(frozen=True)
class Action:
    title: str
    kind: str  # "quickfix" | "refactor"
    edits: dict[str, list[TextEdit]]
    command: Command | None = None


def code_actions(ws: Workspace, uri: str, range: Range, problems: list[Problem]) -> list[Action]:
    document = ws.document(uri)
    if document is None or document.language is None:
        return []
    actions: list[Action] = []
    for problem in problems:
        if problem.code == UNDEFINED and problem.data.get("key"):
            actions += undefined_key_fixes(ws, document, problem.range, problem.data["key"])
    wants_cites = ws.settings.suggest_code_actions or any(p.code == CLAIM for p in problems)
    if wants_cites:
        actions += cite_actions(ws, document, range)
    return actions


def undefined_key_fixes(ws: Workspace, document: Document, key_range: Range, key: str) -> list[Action]:
    """Add the entry from the index; or replace the key with a near one (from the .bib, else the index)."""
    actions = []
    index = ws.index
    bib_name = os.path.basename(target_bib_path(ws, document.uri))
    indexed = index.get(key) if index is not None else None
    if indexed is not None:
        actions.append(Action(f"Add {key} to {bib_name} from the citewise index", "quickfix",
                              cite_edits(ws, document.uri, indexed), _push(ws, key)))
    for near in near_keys(key, draft_bib_keys(ws, document.uri), MAX_KEY_FIXES):
        actions.append(Action(f"Replace with {near}", "quickfix", {document.path: [TextEdit(key_range, near)]}))
    if indexed is None and index is not None:
        for near in near_keys(key, ws.index_keys_like(key), MAX_KEY_FIXES):
            ref = index.get(near)
            if ref is None:
                continue
            edits = cite_edits(ws, document.uri, ref)
            edits.setdefault(document.path, []).insert(0, TextEdit(key_range, near))
            actions.append(Action(f"Replace with {near} and add it to {bib_name} from the index", "quickfix",
                                  edits, _push(ws, near)))
    return actions


def _push(ws: Workspace, key: str) -> Command | None:
    if not ws.settings.zotero_push:
        return None
    return Command("Add to Zotero", "citewise.pushToZotero", [key])


def cite_actions(ws: Workspace, document: Document, range: Range) -> list[Action]:
    sentence, suggestions = suggestions_at(ws, document, range.start)
    if sentence is None:
        return []
    actions = []
    for suggestion in suggestions:
        title, edits, command = cite_action_parts(ws, document, sentence, suggestion)
        actions.append(Action(title, "refactor", edits, command))
    return actions
