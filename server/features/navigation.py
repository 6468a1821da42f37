"""Go to definition, find references, rename keys, and symbols for .bib files and the index."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from citewise.bib.errors import CitewiseError
from citewise.server.features.key_lookup import defining_states, key_at
from citewise.server.features.positions import Location, LspLineIndex, Pos, Range, TextEdit
from citewise.server.features.render import detail_line, plain
from citewise.server.features.workspace import BibState, Workspace, read_text

MAX_WORKSPACE_SYMBOLS = 50
_VALID_KEY = re.compile(r"[^\s,{}()#%\"'=\\~]+")


@dataclass(frozen=True)
class Symbol:
    name: str
    detail: str
    kind: str  # "entry" (a .bib entry) or "paper" (an index search result)
    location: Location | None  # None: the paper is only in the index
    selection: Range | None = None  # the key inside `location.range`


def _span_range(state: BibState, span) -> Range:
    lines = state.derived.get("lines")
    if lines is None:
        lines = state.derived["lines"] = LspLineIndex(state.file.text)
    return lines.lsp_range(span.start_line, span.start_col, span.end_line, span.end_col)


def definition(ws: Workspace, uri: str, pos: Pos) -> list[Location]:
    found = key_at(ws, uri, pos)
    if found is None:
        return []
    locations = []
    for state in defining_states(ws, uri, found.key):
        for entry in state.file.entries:
            if entry.key.lower() == found.key.lower():
                locations.append(Location(state.file.path, _span_range(state, entry.span)))
    return locations


def references(ws: Workspace, uri: str, pos: Pos, include_declaration: bool = True) -> list[Location]:
    found = key_at(ws, uri, pos)
    if found is None:
        return []
    locations = [Location(path, r) for path, r in _uses(ws, found.key)]
    if include_declaration:
        locations += [Location(s.file.path, _span_range(s, e.key_span))
                      for s, e in _bib_entries(ws, uri, found.key)]
    return locations


def _uses(ws: Workspace, key: str) -> list[tuple[str, Range]]:
    """Every use of `key` in the workspace's drafts, as (path, key range)."""
    found = []
    for path, citations in ws.workspace_citations().items():
        uses = [u for c in citations for u in c.keys if u.key == key]
        if not uses:
            continue
        document = ws.document(path)
        lines = document.lines if document else LspLineIndex(read_text(path) or "")
        found += [(path, lines.lsp_range(u.line, u.col, u.line, u.end_col)) for u in uses]
    return found


def _bib_entries(ws: Workspace, uri: str, key: str):
    """(state, entry) for every entry named `key` in the .bib files relevant to `uri`."""
    states = {s.file.path: s for s in defining_states(ws, uri, key)}
    for path in ws.known_bib_paths():
        state = ws.bib_state(path)
        if state is not None and state.entry(key) is not None:
            states.setdefault(path, state)
    return [(s, e) for s in states.values() for e in s.file.entries if e.key.lower() == key.lower()]


def prepare_rename(ws: Workspace, uri: str, pos: Pos) -> Range | None:
    found = key_at(ws, uri, pos)
    return found.range if found else None


def rename(ws: Workspace, uri: str, pos: Pos, new_key: str) -> dict[str, list[TextEdit]]:
    """The key under the cursor renamed in every draft and .bib of the workspace, as one edit set."""
    found = key_at(ws, uri, pos)
    if found is None:
        return {}
    if not _VALID_KEY.fullmatch(new_key or ""):
        raise CitewiseError(f"{new_key!r} is not a valid citation key (no spaces, commas, braces or quotes)")
    entries = _bib_entries(ws, uri, found.key)
    for state, _ in entries:
        clash = state.entry(new_key)
        if clash is not None and new_key.lower() != found.key.lower():
            raise CitewiseError(f"{os.path.basename(state.file.path)} already has an entry {new_key!r}")
    edits: dict[str, list[TextEdit]] = {}
    for path, key_range in _uses(ws, found.key):
        edits.setdefault(path, []).append(TextEdit(key_range, new_key))
    for state, entry in entries:
        edits.setdefault(state.file.path, []).append(TextEdit(_span_range(state, entry.key_span), new_key))
    return edits


def bib_symbols(ws: Workspace, uri: str) -> list[Symbol]:
    document = ws.document(uri)
    if document is None or not document.path.lower().endswith(".bib"):
        return []
    state = ws.bib_state(document.path)
    if state is None:
        return []
    symbols = []
    for entry in state.file.entries:
        title = plain(entry.fields.get("title", ""))
        detail = f"@{entry.entry_type}" + (f" · {title}" if title else "")
        location = Location(state.file.path, _span_range(state, entry.span))
        symbols.append(Symbol(entry.key, detail, "entry", location, _span_range(state, entry.key_span)))
    return symbols


def workspace_symbols(ws: Workspace, query: str) -> list[Symbol]:
    """Index search results as symbols; papers in a known .bib point at their entry."""
    query = (query or "").strip()
    searcher = ws.searcher
    if len(query) < 2 or searcher is None:
        return []
    symbols = []
    for hit in searcher.search(query, k=MAX_WORKSPACE_SYMBOLS):
        ref = hit.ref
        location = _known_location(ws, ref.key)
        detail = " — ".join(p for p in (detail_line(ref), plain(ref.title)) if p)
        symbols.append(Symbol(ref.key, detail, "paper", location))
    return symbols


def _known_location(ws: Workspace, key: str) -> Location | None:
    for path in ws.known_bib_paths():
        state = ws.bib_state(path)
        entry = state.entry(key) if state else None
        if entry is not None:
            return Location(path, _span_range(state, entry.span))
    return None
