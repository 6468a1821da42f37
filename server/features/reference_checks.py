"""Reference checks in the editor: `verify` findings as diagnostics, their fixes as quick fixes,
and "Add from DOI …" for an identifier written in the text.

All of it waits for the `verify` setting (off by default: it sends the DOIs, arXiv ids and titles
of cited entries to the registries). Checking is split so the features thread never waits on
the network: `entries_to_check` (features thread) picks the cited entries not checked yet,
`check_entries` (`registries` lane) asks the registries, and `verify_problems` (features thread) turns
the stored findings into problems on each citation and on each .bib entry. Findings are kept by
.bib path, key and the entry's text, so an edited entry is checked again; registry answers are
cached on disk (see `citewise.bib.registries.cache`), so reopening a draft asks nothing again.
Verified and unverifiable entries get no diagnostic.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass

from citewise.bib.bibtex.reader import entry_to_reference
from citewise.bib.keys import make_key
from citewise.bib.model import Reference
from citewise.bib.registries.identifiers import find_identifier
from citewise.bib.registries.lookup import Registries
from citewise.bib.registries.resolve import Resolution, resolve_text
from citewise.server.features import fit_checks
from citewise.server.features.actions import Action
from citewise.server.features.diagnostics import Problem
from citewise.server.features.edits import citation_text, cite_edits, cite_syntax
from citewise.server.features.positions import Command, LspLineIndex, Pos, Range, TextEdit
from citewise.server.features.verify import Finding, check_all
from citewise.server.features.workspace import BibState, Document, Workspace, read_text

CODE_PREFIX = "verify-"
SILENT = ("verified", "unverifiable")
WARNINGS = ("not-found", "mismatch", "retracted")
ADD_FROM_IDENTIFIER = "citewise.addFromIdentifier"


class _Checks:
    """Per workspace: the registries client and the findings so far, shared by two threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.findings: dict[tuple[str, str, str], Finding] = {}
        self.registries: Registries | None = None

    def client(self) -> Registries:
        with self.lock:
            if self.registries is None:
                self.registries = Registries.open()
            return self.registries


_CHECKS: weakref.WeakKeyDictionary[Workspace, _Checks] = weakref.WeakKeyDictionary()
_CHECKS_LOCK = threading.Lock()


def _checks(ws: Workspace) -> _Checks:
    with _CHECKS_LOCK:
        return _CHECKS.setdefault(ws, _Checks())


def _entries(ws: Workspace, document: Document) -> list[tuple[BibState, object]]:
    """(state, entry) for each entry the draft cites, or every entry of a .bib document."""
    if document.path.lower().endswith(".bib"):
        state = ws.bib_state(document.path)
        return [(state, entry) for entry in state.file.entries] if state is not None else []
    states = ws.bib_states_for(document.uri)
    chosen = {}
    for citation in ws.citations(document.uri):
        for use in citation.keys:
            for state in states:
                entry = state.entry(use.key)
                if entry is not None:
                    chosen.setdefault((state.file.path, entry.key), (state, entry))
                    break
    return list(chosen.values())


@dataclass
class PendingChecks:
    entries: list[tuple[Reference, str]]
    """(reference, entry text) of every entry `uri` cites (or holds), in order."""
    checked: set[int]
    """Positions in `entries` of those with a finding for their current text already: not asked
    about again, but an entry to check may repeat one of them (a duplicate)."""


def entries_to_check(ws: Workspace, uri: str) -> PendingChecks | None:
    """The entries `uri` cites (or holds), when some have no finding for their current text."""
    document = ws.document(uri)
    if document is None or not ws.settings.verify:
        return None
    checks = _checks(ws)
    pending = PendingChecks([], set())
    for state, entry in _entries(ws, document):
        state.file.wait_for_fields(10.0)
        with checks.lock:
            if (state.file.path, entry.key, entry.raw) in checks.findings:
                pending.checked.add(len(pending.entries))
        pending.entries.append((entry_to_reference(entry, state.file.path), entry.raw))
    return pending if len(pending.checked) < len(pending.entries) else None


def check_entries(ws: Workspace, pending: PendingChecks) -> int:
    """Ask the registries about the pending entries and keep the findings; how many were checked.
    Runs on the `registries` lane: it touches only the findings store, never the workspace's files."""
    checks = _checks(ws)
    findings = check_all([ref for ref, _ in pending.entries], checks.client(), checked=pending.checked)
    todo = [entry for i, entry in enumerate(pending.entries) if i not in pending.checked]
    with checks.lock:
        for (ref, raw), finding in zip(todo, findings):
            checks.findings[(ref.origin.source, ref.key, raw)] = finding
    return len(findings)


def verify_problems(ws: Workspace, uri: str) -> list[Problem]:
    """Problems for the stored findings: on each citation of a flagged entry, or on the entry itself."""
    document = ws.document(uri)
    if document is None or not ws.settings.verify:
        return []
    checks = _checks(ws)
    flagged: dict[tuple[str, str], Finding] = {}
    entries = _entries(ws, document)
    with checks.lock:
        for state, entry in entries:
            finding = checks.findings.get((state.file.path, entry.key, entry.raw))
            if finding is not None and finding.status not in SILENT:
                flagged[(state.file.path, entry.key.lower())] = finding
    if document.path.lower().endswith(".bib"):
        lines = LspLineIndex(document.text)
        state = ws.bib_state(document.path)
        return [_problem(lines.lsp_range(e.key_span.start_line, e.key_span.start_col, e.key_span.end_line, e.key_span.end_col),
                         flagged[(state.file.path, e.key.lower())], state.file.path)
                for e in state.file.entries if (state.file.path, e.key.lower()) in flagged]
    problems = []
    paths = {key: path for path, key in flagged}
    for citation in ws.citations(uri):
        for use in citation.keys:
            path = paths.get(use.key.lower())
            if path is not None:
                key_range = document.lines.lsp_range(use.line, use.col, use.line, use.end_col)
                problems.append(_problem(key_range, flagged[(path, use.key.lower())], path))
    return problems


def _problem(key_range: Range, finding: Finding, bib_path: str) -> Problem:
    severity = "warning" if finding.status in WARNINGS else "info"
    message = f"{finding.key}: {finding.status}: {finding.detail}"
    return Problem(key_range, severity, message, CODE_PREFIX + finding.status,
                   {"key": finding.key, "bib": bib_path, "fix": finding.fix})


def code_actions(ws: Workspace, uri: str, range: Range, problems: list[Problem]) -> list[Action]:
    """Quick fixes for the verify and weak-fit problems in the request, and "Add from …" for an
    identifier at the cursor; in a .bib file (no draft language), only the verify fixes."""
    document = ws.document(uri)
    if document is None:
        return []
    if document.language is None:
        return quick_fixes(ws, problems) if document.path.lower().endswith(".bib") else []
    return quick_fixes(ws, problems) + fit_checks.quick_fixes(document, problems) + identifier_actions(document, range)


def quick_fixes(ws: Workspace, problems: list[Problem]) -> list[Action]:
    """Each verify finding's fix: the corrected entry in place of the old one, or the merge of a duplicate."""
    actions = []
    for problem in problems:
        fix = problem.data.get("fix") if problem.code.startswith(CODE_PREFIX) else None
        state = ws.bib_state(problem.data.get("bib", "")) if fix else None
        if not fix or state is None:
            continue
        lines = LspLineIndex(state.file.text)
        if "entry" in fix:
            entry = state.entry(fix["key"])
            if entry is not None:
                span = entry.span
                where = lines.lsp_range(span.start_line, span.start_col, span.end_line, span.end_col)
                actions.append(Action(f"{fix['title']} ({fix['key']})", "quickfix", {state.file.path: [TextEdit(where, fix["entry"].rstrip("\n"))]}))
        elif "remove" in fix:
            actions.append(_merge(ws, state, lines, fix))
    return [action for action in actions if action is not None]


def _merge(ws: Workspace, state: BibState, lines: LspLineIndex, fix: dict) -> Action | None:
    """Cite `keep` wherever `remove` is cited in the drafts using this .bib, and delete `remove`."""
    entry = state.entry(fix["remove"])
    if entry is None:
        return None
    span = entry.span
    after = span.end_line + 1
    if after < lines.line_count and not lines.line_text(after).strip():
        after += 1  # and the blank line that separated it from the next entry
    end = lines.clamp(Pos(after, 0))
    edits: dict[str, list[TextEdit]] = {state.file.path: [TextEdit(Range(lines.lsp_range(span.start_line, 0, span.start_line, 0).start, end), "")]}
    renamed: set[tuple[str, int, int]] = set()  # a root draft's citations come with its project's too
    for draft in ws.drafts_using(state.file.path):
        for citation in ws.cited_in_project(draft):
            file = citation.file or draft
            uses = [use for use in citation.keys if use.key.lower() == fix["remove"].lower() and (file, use.line, use.col) not in renamed]
            document = (ws.document(file) or _on_disk(file)) if uses else None
            if document is None:
                continue
            for use in uses:
                renamed.add((file, use.line, use.col))
                where = document.lines.lsp_range(use.line, use.col, use.line, use.end_col)
                edits.setdefault(file, []).append(TextEdit(where, fix["keep"]))
    return Action(f"{fix['title']} (cite {fix['keep']} instead of {fix['remove']})", "quickfix", edits)


def _on_disk(path: str) -> Document | None:
    text = read_text(path)
    return Document(uri=path, path=path, text=text, language=None) if text is not None else None


def identifier_actions(document: Document, range: Range) -> list[Action]:
    """"Add from DOI …" / "Add from arXiv …" for an identifier on the line at the cursor."""
    ident = find_identifier(document.lines.line_text(range.start.line))
    if ident is None:
        return []
    label = "DOI" if ident.kind == "doi" else "arXiv"
    command = Command(f"Add from {label} {ident.value}", ADD_FROM_IDENTIFIER, [document.uri, range.start.line, ident.value])
    return [Action(f"Add from {label} {ident.value}", "quickfix", {}, command)]


def registries(ws: Workspace) -> Registries:
    """The workspace's registries client (opened on first use), shared by every registry feature."""
    return _checks(ws).client()


def resolve_identifier(ws: Workspace, value: str) -> Resolution:
    """Ask the registries about `value` (run off the features thread: it waits on the network)."""
    return resolve_text(value, registries(ws))


def key_for(ws: Workspace, uri: str, ref: Reference) -> tuple[str, bool]:
    """The key to cite `ref` by from `uri`, and whether a .bib of the draft holds it already
    (the same DOI or arXiv id): that entry's key, else a new key from the key formula."""
    states = ws.bib_states_for(uri)
    existing = next((r.key for state in states for r in state.references.values()
                     if ref.doi and r.doi == ref.doi or ref.arxiv and r.arxiv == ref.arxiv), "")
    if existing:
        return existing, True
    return make_key(ref, {entry.key for state in states for entry in state.file.entries}), False


def identifier_edits(ws: Workspace, uri: str, line: int, value: str, ref: Reference) -> dict[str, list[TextEdit]]:
    """Write `ref` to the draft's .bib (unless it holds the work already) and cite it in place of
    the identifier on `line` (its key inside a citation, a new citation in the text): the edits of
    "Add from DOI …", which the user chose to run."""
    document = ws.document(uri)
    if document is None:
        return {}
    ref.key, existing = key_for(ws, uri, ref)
    edits = {} if existing else cite_edits(ws, uri, ref)
    found = _identifier_span(document.lines.line_text(line), value)
    if found is not None:
        in_citation = any(use.line == line and use.col < found[1] and found[0] < use.end_col
                          for citation in ws.citations(uri) for use in citation.keys)
        text = ref.key if in_citation else citation_text(cite_syntax(ws, document), [ref.key])
        edits.setdefault(document.path, []).append(TextEdit(document.lines.lsp_range(line, found[0], line, found[1]), text))
    return edits


_WRITTEN_IDENTIFIER = r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*|https?://arxiv\.org/(?:abs|pdf)/|arxiv:\s*)?"


def _identifier_span(line: str, value: str) -> tuple[int, int] | None:
    """Columns of the identifier as written on the line, with its prefix and version."""
    match = re.search(_WRITTEN_IDENTIFIER + re.escape(value) + r"(?:v\d+)?", line, re.IGNORECASE)
    return match.span() if match else None
