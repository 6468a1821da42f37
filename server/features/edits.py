"""Edits that cite a paper: the citation in the draft's syntax, its entry in the right .bib.

The right .bib is the one the draft declares; with several, `Settings.target_bib` picks
one (matched by path relative to the draft or by file name), else the first. A draft
that declares none gets `references.bib` beside it (created by the protocol layer,
since the path does not exist yet) plus a declaration in the draft itself: LaTeX
`\\bibliography{references}` before `\\end{document}`, Markdown `bibliography:` in
the YAML front matter.
"""

from __future__ import annotations

import bisect
import collections
import os
from dataclasses import dataclass

from citewise.bib.bibtex.writer import format_entry
from citewise.bib.model import Reference
from citewise.server.features.positions import FileEdit, LspLineIndex, Range, TextEdit
from citewise.server.features.workspace import BibState, Document, Workspace

DEFAULT_BIB_NAME = "references.bib"


@dataclass
class VersionedEdits:
    """Edits by file path, with the version of each open document they were computed against
    (None: not open in the editor). A client holding another version refuses them, so they never
    land on text they were not computed for."""

    edits: dict[str, list[TextEdit]]
    versions: dict[str, int | None]


def target_bib_path(ws: Workspace, uri: str) -> str:
    document = ws.document(uri)
    draft_dir = os.path.dirname(document.path) if document else os.getcwd()
    declared = ws.bib_paths_for(uri)
    wanted = ws.settings.target_bib
    if wanted:
        resolved = os.path.normpath(os.path.join(draft_dir, os.path.expanduser(wanted)))
        for path in declared:
            if path == resolved or os.path.basename(path) == os.path.basename(wanted):
                return path
        if not declared:
            return resolved
    if declared:
        return declared[0]
    return os.path.join(draft_dir, DEFAULT_BIB_NAME)


def bib_lines(ws: Workspace, path: str) -> tuple[str, LspLineIndex] | None:
    """The text of the .bib at `path` as the workspace sees it, with its line index."""
    state = ws.bib_state(path)
    if state is None:
        return None
    lines = state.derived.get("lines")
    if lines is None:
        lines = state.derived["lines"] = LspLineIndex(state.file.text)
    return state.file.text, lines


def bib_entry_edit(ws: Workspace, bib_path: str, ref: Reference, entry_text: str | None = None) -> FileEdit | None:
    """The minimal edit adding `ref` (formatted as `entry_text`, by default `format_entry(ref)`)
    to `bib_path`; None when that key is already there."""
    entry_text = entry_text or format_entry(ref)
    state = ws.bib_state(bib_path)
    if state is None:
        return FileEdit(bib_path, Range.of(0, 0, 0, 0), entry_text)
    if state.entry(ref.key) is not None:
        return None
    start, new_text = _InsertionPlan.of(state).insertion(ref.key, entry_text)
    _, lines = bib_lines(ws, bib_path)
    return FileEdit(bib_path, lines.offset_range(start, start), new_text)


@dataclass
class _InsertionPlan:
    """Where new entries go in one parsed .bib, computed once per parse.

    Same placement as `citewise.bib.bibtex.edit.insert_entry_edit` (key order in a file
    sorted by key, else after the last entry, separated as the file separates entries),
    which rescans the whole file on every call; completion needs it for twenty
    candidates in a few milliseconds.
    """

    sorted_keys: list[str] | None
    sorted_starts: list[int]
    newline: str
    gap: str
    append_at: int
    append_prefix: str
    append_suffix: str

    @staticmethod
    def of(state: BibState) -> _InsertionPlan:
        plan = state.derived.get("insertion")
        if plan is None:
            plan = state.derived["insertion"] = _InsertionPlan.build(state.file.text, state.file.entries)
        return plan

    @staticmethod
    def build(text: str, entries: list) -> _InsertionPlan:
        newline = "\r\n" if "\r\n" in text else "\n"
        keys = [entry.key.lower() for entry in entries]
        is_sorted = len(keys) >= 2 and all(a <= b for a, b in zip(keys, keys[1:]))
        gaps = [text[a.span.end_offset:b.span.start_offset] for a, b in zip(entries, entries[1:])]
        gaps = [gap for gap in gaps if not gap.strip() and newline in gap]
        gap = collections.Counter(gaps).most_common(1)[0][0] if gaps else newline * 2
        if entries and not text[entries[-1].span.end_offset:].strip():
            append_at, prefix, suffix = entries[-1].span.end_offset, gap, ""
        else:
            append_at, prefix, suffix = len(text), _separator_before_end(text, gap, newline), newline
        return _InsertionPlan(keys if is_sorted else None, [e.span.start_offset for e in entries] if is_sorted else [],
                              newline, gap, append_at, prefix, suffix)

    def insertion(self, key: str, entry_text: str) -> tuple[int, str]:
        """(offset, text to insert there) for a new entry `key`."""
        entry = entry_text.strip().replace("\r\n", "\n").replace("\n", self.newline)
        if self.sorted_keys is not None:
            following = bisect.bisect_right(self.sorted_keys, key.lower())
            if following < len(self.sorted_keys):
                return self.sorted_starts[following], entry + self.gap
        return self.append_at, self.append_prefix + entry + self.append_suffix


def _separator_before_end(text: str, gap: str, newline: str) -> str:
    if not text.strip():
        return ""
    trailing = text[len(text.rstrip()):]
    return newline * max(0, gap.count(newline) - trailing.count(newline))


def declaration_edit(ws: Workspace, document: Document, bib_path: str) -> TextEdit | None:
    """A bibliography declaration for a draft that has none; None when it already declares one."""
    if ws.bib_paths_for(document.uri) or document.language is None:
        return None
    name = os.path.relpath(bib_path, os.path.dirname(document.path))
    text = document.text
    if document.language == "latex":
        end = text.rfind("\\end{document}")
        if end == -1:
            return None
        stem = name[:-4] if name.lower().endswith(".bib") else name
        position = document.lines.position_of(end)
        return TextEdit(Range(position, position), f"\\bibliography{{{stem}}}\n")
    if text.startswith("---\n") or text.startswith("---\r\n"):
        return TextEdit(Range.of(1, 0, 1, 0), f"bibliography: {name}\n")
    return TextEdit(Range.of(0, 0, 0, 0), f"---\nbibliography: {name}\n---\n\n")


def cite_edits(ws: Workspace, uri: str, ref: Reference) -> dict[str, list[TextEdit]]:
    """The .bib side of citing `ref` from `uri`: entry insertion and, if needed, the declaration."""
    document = ws.document(uri)
    if document is None:
        return {}
    if any(state.file.entry(ref.key) is not None for state in ws.bib_states_for(uri)):
        return {}
    bib_path = target_bib_path(ws, uri)
    edits: dict[str, list[TextEdit]] = {}
    entry = bib_entry_edit(ws, bib_path, ref)
    if entry is not None:
        edits[bib_path] = [TextEdit(entry.range, entry.new_text)]
    declaration = declaration_edit(ws, document, bib_path)
    if declaration is not None:
        edits.setdefault(document.path, []).append(declaration)
    return edits


def cite_syntax(ws: Workspace, document: Document) -> str:
    """The citation form for new citations: the configured command, MyST when the draft uses MyST."""
    if document.language == "latex":
        return ws.settings.cite_command.get("latex", "\\cite")
    command = ws.settings.cite_command.get("markdown", "[@]")
    if command == "[@]" and any(c.syntax == "myst" for c in document.citations):
        return "{cite:p}"
    return command


def citation_text(command: str, keys: list[str]) -> str:
    """`\\cite{a,b}`, `[@a; @b]`, `@a`, or `{cite:p}`a,b`` for `keys` with `command`."""
    if command.startswith("\\"):
        return f"{command}{{{','.join(keys)}}}"
    if command == "[@]":
        return "[" + "; ".join(f"@{key}" for key in keys) + "]"
    if command == "@":
        return "; ".join(f"@{key}" for key in keys)
    return f"{command}`{','.join(keys)}`"


def citation_insertion(ws: Workspace, document: Document, offset: int, keys: list[str]) -> TextEdit:
    """Insert a citation of `keys` at `offset`, joining a citation that ends right there."""
    lines = document.lines
    joined = _join_existing(document, offset, keys)
    if joined is not None:
        return joined
    command = cite_syntax(ws, document)
    separator = "~" if command.startswith("\\") else " "
    before = document.text[offset - 1:offset] if offset > 0 else ""
    prefix = "" if before.isspace() or before in ("", "~", "(", "[") else separator
    position = lines.position_of(offset)
    return TextEdit(Range(position, position), prefix + citation_text(command, keys))


def _join_existing(document: Document, offset: int, keys: list[str]) -> TextEdit | None:
    """When a LaTeX or bracketed Pandoc citation ends at `offset`, add `keys` inside it."""
    lines = document.lines
    line, col = lines.char_col(lines.position_of(offset))
    for citation in document.citations:
        if citation.end_line != line or citation.end_col != col or not citation.keys:
            continue
        closing = document.text[offset - 1:offset]
        if citation.syntax == "latex" and closing == "}":
            new_text = "," + ",".join(keys)
        elif citation.syntax == "pandoc" and closing == "]":
            new_text = "".join(f"; @{key}" for key in keys)
        else:
            return None
        position = lines.position_of(offset - 1)
        return TextEdit(Range(position, position), new_text)
    return None

