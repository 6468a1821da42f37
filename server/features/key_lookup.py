"""The citation key under the cursor, in a draft or in a .bib file, and where keys are known."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from citewise.bib.model import Reference
from citewise.server.drafts.model import Citation
from citewise.server.features.positions import Pos, Range
from citewise.server.features.workspace import BibState, Document, Workspace

NEAR_KEY_CUTOFF = 75
ENTRY_FIELDS_WAIT_SECONDS = 2.0  # a first parse of a .bib is under way: one hover may wait for it


@dataclass(frozen=True)
class KeyAt:
    key: str
    range: Range  # the key itself, LSP coordinates
    citation: Citation | None  # None when the cursor is on an entry key in a .bib file


def key_at(ws: Workspace, uri: str, pos: Pos) -> KeyAt | None:
    document = ws.document(uri)
    if document is None:
        return None
    if document.path.lower().endswith(".bib"):
        return _bib_key_at(ws, document, pos)
    line, col = document.lines.char_col(pos)
    found = _key_in(document, ws.citations(uri), line, col)
    if found is None:
        root = ws.including_root(document.path)
        if root is not None:
            written_here = [c for c in ws.project_draft(root).citations
                            if os.path.abspath(c.file or root) == document.path]
            found = _key_in(document, written_here, line, col)
    return found


def _key_in(document: Document, citations: list[Citation], line: int, col: int) -> KeyAt | None:
    for citation in citations:
        if not citation.line <= line <= citation.end_line:
            continue
        for use in citation.keys:
            if use.line == line and use.col <= col <= use.end_col:
                return KeyAt(use.key, document.lines.lsp_range(line, use.col, line, use.end_col), citation)
    return None


def _bib_key_at(ws: Workspace, document: Document, pos: Pos) -> KeyAt | None:
    state = ws.bib_state(document.path)
    if state is None:
        return None
    lines = document.lines
    for entry in state.file.entries:
        span = entry.key_span
        key_range = lines.lsp_range(span.start_line, span.start_col, span.end_line, span.end_col)
        if key_range.contains(pos):
            return KeyAt(entry.key, key_range, None)
    return None


def defining_states(ws: Workspace, uri: str, key: str, wait_seconds: float = 0.0) -> list[BibState]:
    """The .bib files (of the draft, or the .bib itself) that define `key`; `wait_seconds`
    waits for fields still being parsed, so @strings across files are resolved."""
    document = ws.document(uri)
    if document is not None and document.path.lower().endswith(".bib"):
        state = ws.bib_state_in_bibliography(document.path, wait_seconds)
        states = [state] if state is not None else []
    else:
        states = ws.bib_states_for(uri, wait_seconds)
    return [state for state in states if state.entry(key) is not None]


def bib_reference(ws: Workspace, uri: str, key: str) -> Reference | None:
    """The reference `key` names in the draft's .bib files, its fields waited for if still parsing."""
    for state in defining_states(ws, uri, key, ENTRY_FIELDS_WAIT_SECONDS):
        state.file.wait_for_fields(ENTRY_FIELDS_WAIT_SECONDS)
        return state.references.get(state.entry(key).key)
    return None


def near_keys(key: str, choices: list[str], limit: int = 3) -> list[str]:
    """Up to `limit` keys from `choices` that look like `key` (rapidfuzz, best first)."""
    if not choices or not key:
        return []
    found = process.extract(key, choices, scorer=fuzz.WRatio, limit=limit + 1, score_cutoff=NEAR_KEY_CUTOFF)
    return [choice for choice, _, _ in found if choice != key][:limit]


def draft_bib_keys(ws: Workspace, uri: str) -> list[str]:
    keys: dict[str, None] = {}
    for state in ws.bib_states_for(uri):
        for entry in state.file.entries:
            keys.setdefault(entry.key, None)
    return list(keys)
