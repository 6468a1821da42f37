"""Citing outside an editor: the citation text for a draft, and its missing .bib entries written to disk.

The MCP server's `cite` tool runs on this. The citation follows the draft's syntax and the
configured cite command, exactly as the editor's cite actions write it (`edits`). Missing
entries are formatted by the BibTeX writer and placed by `bib.bibtex.edit.insert_entry_edit`
(in key order when the file is sorted by key, else after the last entry), the placement
completion uses too; the file is then written atomically, once. The draft is never
written: a draft that declares no bibliography gets its declaration back as text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference
from citewise.server.features.draft_bib_lookup import DraftBibLookup
from citewise.server.features.edits import (
    citation_insertion,
    citation_text,
    cite_syntax,
    declaration_edit,
    target_bib_path,
)
from citewise.server.features.key_lookup import near_keys
from citewise.server.features.positions import Pos
from citewise.server.features.workspace import Document, Workspace


@dataclass(frozen=True)
class CitePlan:
    """What citing `keys` in a draft takes; nothing is written until `write_bib(plan)`."""

    citation: str  # the text to insert (at `position` when one was given)
    position: Pos | None
    bib_path: str
    added: list[str]  # keys whose entries the .bib gains
    present: list[str]  # keys the draft's .bib files already hold
    declaration: tuple[int, str] | None  # (0-based line, text) when the draft declares no .bib
    bib_before: bytes | None  # the .bib as read (None: no file yet)
    bib_after: str | None  # the new .bib text (None: nothing to add)


def plan_citation(ws: Workspace, document: Document, keys: list[str], pos: Pos | None = None) -> CitePlan:
    """Resolve `keys` (the draft's .bib files first, then the index) and plan the .bib edit;
    CitewiseError naming every unknown key, with look-alikes."""
    if document.language is None:
        raise CitewiseError(f"{document.path}: not a LaTeX or Markdown draft")
    keys = list(dict.fromkeys(key.strip() for key in keys if key.strip()))
    if not keys:
        raise CitewiseError("no citation keys given")
    bib_path = target_bib_path(ws, document.uri)
    bib_before, bib_text = _read_bib(bib_path)
    in_bib = _keys_in_bibs(ws, document, bib_path, bib_text)
    bib = DraftBibLookup(ws, document.uri)
    present, missing, unknown = [], [], []
    cited = []
    for key in keys:
        if key.lower() in in_bib:
            present.append(in_bib[key.lower()])
            cited.append(in_bib[key.lower()])
            continue
        ref = ws.index.get(key) if ws.index is not None else None
        same_paper = bib.key_of(ref) if ref is not None else None
        if same_paper is not None:  # the paper is in the .bib under another key: cite that one
            present.append(same_paper)
            cited.append(same_paper)
            continue
        if ref is None:
            unknown.append(key)
        else:
            missing.append(ref)
        cited.append(key)
    if unknown:
        raise CitewiseError(_unknown_keys_message(ws, unknown, list(in_bib.values())))
    if pos is None:
        citation = citation_text(cite_syntax(ws, document), cited)
    else:
        edit = citation_insertion(ws, document, document.lines.offset_of(pos), cited)
        citation, pos = edit.new_text, edit.range.start
    declaration = declaration_edit(ws, document, bib_path)
    return CitePlan(
        citation=citation,
        position=pos,
        bib_path=bib_path,
        added=[ref.key for ref in missing],
        present=present,
        declaration=(declaration.range.start.line, declaration.new_text.strip()) if declaration else None,
        bib_before=bib_before,
        bib_after=_with_entries(bib_text, missing) if missing else None,
    )


def write_bib(plan: CitePlan) -> None:
    """Write the planned .bib atomically; refuse when the file changed since it was planned."""
    from citewise.bib.files import write_atomically

    if plan.bib_after is None:
        return
    now, _ = _read_bib(plan.bib_path)
    if now != plan.bib_before:
        raise CitewiseError(f"{plan.bib_path}: changed while citing; nothing written, try again")
    try:
        write_atomically(plan.bib_path, plan.bib_after)
    except OSError as error:
        raise CitewiseError(f"{plan.bib_path}: cannot write: {error.strerror or error}") from None


def _read_bib(path: str) -> tuple[bytes | None, str]:
    from citewise.bib.files import decode, read_bytes

    if not os.path.lexists(path):
        return None, ""
    data = read_bytes(path)
    return data, decode(data, path, "a BibTeX file").text


def _keys_in_bibs(ws: Workspace, document: Document, target: str, target_text: str) -> dict[str, str]:
    """Lowercased key -> key as written, for every entry of the draft's .bib files, read afresh."""
    from citewise.bib.bibtex.reader import scan_entries

    found: dict[str, str] = {}
    for entry in scan_entries(target_text, target):
        found.setdefault(entry.key.lower(), entry.key)
    for path in ws.bib_paths_for(document.uri):
        if os.path.abspath(path) == os.path.abspath(target):
            continue
        state = ws.reload_bib(path, wait=False)
        for entry in state.file.entries if state else []:
            found.setdefault(entry.key.lower(), entry.key)
    return found


def _with_entries(text: str, refs: list[Reference]) -> str:
    from citewise.bib.bibtex.edit import apply_edit, insert_entry_edit
    from citewise.bib.bibtex.writer import format_entry

    for ref in sorted(refs, key=lambda ref: ref.key.lower()):
        text = apply_edit(text, insert_entry_edit(text, ref.key, format_entry(ref)))
    return text


def _unknown_keys_message(ws: Workspace, unknown: list[str], bib_keys: list[str]) -> str:
    parts = []
    for key in unknown:
        near = near_keys(key, bib_keys + ws.index_keys_like(key))
        parts.append(f"{key!r}" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    return f"unknown citation key{'s' if len(unknown) > 1 else ''} {'; '.join(parts)}: not in the draft's .bib files nor in the index"
