"""Problems in drafts and .bib files, each with a stable code that code actions read back.

Drafts: undefined keys (only when the draft has .bib files to check against), keys
defined in more than one of the draft's .bib files, and optionally claims without a
citation. .bib files: parse errors, duplicate keys (in the file and across the .bib
files of the drafts that use it) and, as hints, entries no workspace draft cites (for a large
.bib, once it is open in the editor).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from citewise.server.features.positions import LspLineIndex, Pos, Range
from citewise.server.features.suggestions import uncited_claims
from citewise.server.features.workspace import BibState, Document, Workspace

UNDEFINED = "undefined-key"
DUPLICATE = "duplicate-key"
UNUSED = "unused-entry"
BIB_SYNTAX = "bib-syntax"
CLAIM = "claim-without-citation"
UNUSED_HINTS_MAX_ENTRIES = 1000


@dataclass(frozen=True)
class Problem:
    range: Range
    severity: str  # "error" | "warning" | "info" | "hint"
    message: str
    code: str
    data: dict = field(default_factory=dict)


def diagnostics(ws: Workspace, uri: str) -> list[Problem]:
    document = ws.document(uri)
    if document is None:
        return []
    if document.path.lower().endswith(".bib"):
        return bib_diagnostics(ws, document)
    if document.language is None:
        return []
    return draft_diagnostics(ws, document)


def draft_diagnostics(ws: Workspace, document: Document) -> list[Problem]:
    states = ws.bib_states_for(document.uri)
    problems: list[Problem] = []
    lines = document.lines
    for citation in ws.citations(document.uri):
        for use in citation.keys:
            key_range = lines.lsp_range(use.line, use.col, use.line, use.end_col)
            places = [(state, entry.line) for state in states if (entry := state.entry(use.key)) is not None]
            if states and not places and use.key != "*":
                problems.append(Problem(key_range, "warning", f"undefined citation key {use.key!r}",
                                        UNDEFINED, {"key": use.key}))
            elif places and len(places) > 1:
                where = ", ".join(f"{os.path.basename(s.file.path)}:{line}" for s, line in places)
                problems.append(Problem(key_range, "warning", f"{use.key!r} is defined more than once: {where}",
                                        DUPLICATE, {"key": use.key}))
    if ws.settings.claim_hints:
        for claim in uncited_claims(document):
            span = lines.offset_range(claim.sentence.start, claim.sentence.end)
            problems.append(Problem(span, "hint", f"claim without a citation (\u201c{claim.phrase}\u201d)",
                                    CLAIM, {"phrase": claim.phrase}))
    return problems


def bib_diagnostics(ws: Workspace, document: Document) -> list[Problem]:
    """Never waits for fields: a .bib read for the first time has its keys (duplicates, unused
    entries, syntax errors found so far) at once, and the language server diagnoses it again
    when its fields are parsed (`Bibliographies.on_fields_parsed`).

    A .bib that is not open in the editor and holds more than UNUSED_HINTS_MAX_ENTRIES entries
    (a shared library, not one paper's references) gets no unused-entry hints until it is
    opened: thousands of them would drown its other problems, and building and sending them
    held the language server for a second."""
    state = ws.bib_state_in_bibliography(document.path)
    if state is None:
        return []
    lines = _lines(state)
    problems = [_syntax_problem(lines, error) for error in state.file.errors]
    problems += _duplicates(ws, state, lines)
    if ws.documents.get(document.path) is not None or len(state.file.entries) <= UNUSED_HINTS_MAX_ENTRIES:
        problems += _unused(ws, state, lines)
    return problems


def _lines(state: BibState) -> LspLineIndex:
    lines = state.derived.get("lines")
    if lines is None:
        lines = state.derived["lines"] = LspLineIndex(state.file.text)
    return lines


def _syntax_problem(lines: LspLineIndex, error) -> Problem:
    line = max(0, (getattr(error, "line", None) or 1) - 1)
    message = getattr(error, "message", str(error))
    return Problem(Range(lines.clamp(Pos(line, 0)), lines.clamp(Pos(line, 10_000))), "error", message, BIB_SYNTAX)


def _key_range(lines: LspLineIndex, entry) -> Range:
    span = entry.key_span
    return lines.lsp_range(span.start_line, span.start_col, span.end_line, span.end_col)


def _unused_problem(lines: LspLineIndex, entry) -> Problem:
    return Problem(_key_range(lines, entry), "hint", f"{entry.key!r} is not cited by any draft in the workspace",
                   UNUSED, {"key": entry.key})


def _duplicates(ws: Workspace, state: BibState, lines: LspLineIndex) -> list[Problem]:
    problems = []
    first_line: dict[str, int] = {}
    for entry in state.file.entries:
        folded = entry.key.lower()
        if folded in first_line:
            problems.append(Problem(_key_range(lines, entry), "warning",
                                    f"duplicate key {entry.key!r} (first defined on line {first_line[folded]})",
                                    DUPLICATE, {"key": entry.key}))
        else:
            first_line[folded] = entry.line
    for other in _sibling_bibs(ws, state.file.path):
        for folded, entry in state.by_key.items():
            twin = other.by_key.get(folded)
            if twin is not None:
                problems.append(Problem(_key_range(lines, entry), "warning",
                                        f"{entry.key!r} is also defined in {os.path.basename(other.file.path)}:{twin.line}",
                                        DUPLICATE, {"key": entry.key, "other": other.file.path}))
    return problems


def _sibling_bibs(ws: Workspace, bib_path: str) -> list[BibState]:
    """Other .bib files used together with `bib_path` by some workspace draft."""
    paths: dict[str, None] = {}
    for draft in ws.drafts_using(bib_path):
        for path in ws.bib_paths_for(draft):
            if path != bib_path:
                paths.setdefault(path, None)
    return [s for s in (ws.bib_state(p) for p in paths) if s is not None]


def _unused(ws: Workspace, state: BibState, lines: LspLineIndex) -> list[Problem]:
    drafts = ws.drafts_using(state.file.path)
    if not drafts:
        return []
    cited: set[str] = set()
    for path in drafts:
        cited.update(use.key.lower() for citation in ws.cited_in_project(path) for use in citation.keys)
    if "*" in cited:
        return []
    for folded in list(cited):
        entry = state.by_key.get(folded)
        parent = entry.fields.get("crossref", "").lower() if entry is not None else ""
        if parent:
            cited.add(parent)
    made = state.derived.setdefault("unused-problems", {})
    problems = []
    for folded, entry in state.by_key.items():
        if folded not in cited:
            problem = made.get(folded)
            if problem is None:
                problem = made[folded] = _unused_problem(lines, entry)
            problems.append(problem)
    return problems
