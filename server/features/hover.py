"""Hover on a citation key: the reference card, or a note on an undefined key with near keys."""

from __future__ import annotations

import os
from dataclasses import dataclass

from citewise.server.features.key_lookup import bib_reference, defining_states, draft_bib_keys, key_at, near_keys
from citewise.server.features.positions import Pos, Range
from citewise.server.features.render import reference_markdown
from citewise.server.features.workspace import Workspace


@dataclass(frozen=True)
class HoverInfo:
    markdown: str
    range: Range


def hover(ws: Workspace, uri: str, pos: Pos) -> HoverInfo | None:
    found = key_at(ws, uri, pos)
    if found is None:
        return None
    ref = bib_reference(ws, uri, found.key)
    if ref is not None:
        where = ", ".join(os.path.basename(s.file.path) for s in defining_states(ws, uri, found.key))
        return HoverInfo(f"{reference_markdown(ref)}\n\n`{found.key}` in {where}", found.range)
    index = ws.index
    indexed = index.get(found.key) if index is not None else None
    if indexed is not None:
        note = f"`{found.key}` is in the citewise index but not in this draft's .bib files."
        return HoverInfo(f"{reference_markdown(indexed)}\n\n{note}", found.range)
    return HoverInfo(_undefined_note(ws, uri, found.key), found.range)


def _undefined_note(ws: Workspace, uri: str, key: str) -> str:
    bib_files = ws.bib_paths_for(uri)
    where = ", ".join(os.path.basename(p) for p in bib_files) or "no .bib file (the draft declares none)"
    lines = [f"**Undefined key** `{key}`: not in {where} nor in the index."]
    near = near_keys(key, draft_bib_keys(ws, uri)) or near_keys(key, ws.index_keys_like(key))
    if near:
        lines.append("Did you mean " + ", ".join(f"`{k}`" for k in near) + "?")
    return "\n\n".join(lines)
