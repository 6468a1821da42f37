"""What `workspace/executeCommand` runs: insert a citation, write a .bib, search, reindex, enrich, Zotero.

`reindex`, `enrich_index`, `sync_zotero` and `push_to_zotero` run on the `jobs` lane (background.py):
they open their own index connection and only read the workspace's parsed .bib files. The
workspace's own connection sees their commits (SQLite WAL) on its next query.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference, reference_from_dict, reference_to_dict
from citewise.server.drafts.uris import uri_to_path
from citewise.server.features.completion import citation_context
from citewise.server.features.edits import citation_insertion, cite_edits, target_bib_path
from citewise.server.features.feedback import feedback_for
from citewise.server.features.key_lookup import bib_reference
from citewise.server.features.positions import Pos, Range, TextEdit
from citewise.server.features.render import authors_line, plain
from citewise.server.features.workspace import Workspace, WorkspaceStatus

if TYPE_CHECKING:
    from citewise.bib.registries.enrich import EnrichSummary

Progress = Callable[[str, int | None], None]


class Cancelled(CitewiseError):
    """The client cancelled a long command; work done so far is kept."""


def insert_citation(ws: Workspace, uri: str, pos: Pos, key_or_ref: str | dict) -> dict[str, list[TextEdit]]:
    """Cite a paper (a key from the .bib or index, or a reference dict) at `pos`, adding its entry."""
    document = ws.document(uri)
    if document is None or document.language is None:
        raise CitewiseError(f"{uri_to_path(uri)}: not an open LaTeX or Markdown draft")
    ref = _resolve(ws, uri, key_or_ref)
    store = feedback_for(ws)
    if store is not None:
        store.record("accepted", ref.key)
    in_bib = bib_reference(ws, uri, ref.key) is not None
    edits = {} if in_bib else cite_edits(ws, uri, ref)
    edits.setdefault(document.path, []).insert(0, _key_or_citation(ws, document, pos, ref.key))
    return edits


def _resolve(ws: Workspace, uri: str, key_or_ref: str | dict) -> Reference:
    if isinstance(key_or_ref, dict):
        ref = reference_from_dict(key_or_ref)
        if not ref.key:
            raise CitewiseError("the reference to insert has no key")
        return ref
    key = key_or_ref.strip() if isinstance(key_or_ref, str) else ""
    if not key:
        raise CitewiseError("no citation key to insert: give the key of a paper in the .bib or the index")
    ref = bib_reference(ws, uri, key)
    if ref is None and ws.index is not None:
        ref = ws.index.get(key)
    if ref is None:
        raise CitewiseError(f"unknown citation key {key!r}: not in the draft's .bib files nor in the index")
    return ref


def _key_or_citation(ws: Workspace, document, pos: Pos, key: str) -> TextEdit:
    """Inside a citation: the key added to it; elsewhere: a new citation at `pos`."""
    context = citation_context(document, pos, ws.extra_cite_macros())
    if context is None:
        return citation_insertion(ws, document, document.lines.offset_of(pos), [key])
    pos = document.lines.clamp(pos)
    offset = document.lines.offset_of(pos)
    before = document.text[:offset].rstrip()[-1:]
    if context.syntax == "pandoc":
        text = key if before == "@" else ("@" + key if before in ("[", ";") else "; @" + key)
    else:
        text = key if before in ("{", ",", "`") else "," + key
    return TextEdit(Range(pos, pos), text)


def generate_bib(ws: Workspace, uri: str) -> str:
    """Write the .bib for this draft (cited entries from its .bib files, then the index); its path.

    The destination is `Settings.target_bib`, else the draft's first .bib, else
    `references.bib` beside it. Entries already in the destination that the draft
    does not cite are kept at its end, so nothing is ever lost; the write is atomic.
    """
    from citewise.bib.files import write_atomically
    from citewise.server.drafts.bibgen import generate_bib as build_bib

    draft = ws.draft_for(uri)
    destination = target_bib_path(ws, uri)
    result = build_bib([draft], ws.bib_paths_for(uri), ws.index)
    text = result.text
    if os.path.isfile(destination):
        text += _entries_missing_from(text, destination)
    write_atomically(destination, text)
    ws.reload_bib(destination)
    return destination


def _entries_missing_from(generated: str, destination: str) -> str:
    from citewise.bib.bibtex.reader import parse_bib_text
    from citewise.bib.files import read_text

    existing = parse_bib_text(read_text(destination, "a BibTeX file").text, destination)
    written = {entry.key.lower() for entry in parse_bib_text(generated).entries}
    kept = [entry.raw for entry in existing.entries if entry.key.lower() not in written]
    if not kept:
        return ""
    return "\n" + "\n\n".join(raw.strip() for raw in kept) + "\n"


def suggestion_feedback(ws: Workspace, kind: str, key: str) -> dict:
    """Remember that the author accepted or dismissed the suggested paper `key` (kind
    "accepted" or "dismissed"); nothing is kept while the `suggestionFeedback` setting is off."""
    if kind not in ("accepted", "dismissed") or not isinstance(key, str) or not key:
        raise CitewiseError(f"suggestion feedback needs \"accepted\" or \"dismissed\" and a key, got {kind!r}, {key!r}")
    store = feedback_for(ws)
    if store is None:
        return {"recorded": False}
    store.record(kind, key)
    return {"recorded": True}


def search_papers(ws: Workspace, query: str, k: int = 10) -> list[dict]:
    searcher = ws.searcher
    if searcher is None or not (query or "").strip():
        return []
    return [
        {
            "key": hit.ref.key,
            "title": plain(hit.ref.title),
            "authors": authors_line(hit.ref, limit=3),
            "year": hit.ref.year,
            "venue": plain(hit.ref.venue),
            "score": round(float(hit.score), 4),
            "reference": reference_to_dict(hit.ref),
        }
        for hit in searcher.search(query, k=max(1, min(int(k), 100)))
    ]


def workspace_bib_paths(ws: Workspace) -> list[str]:
    paths = dict.fromkeys(ws.known_bib_paths())
    for draft in ws.draft_files():
        paths.update(dict.fromkeys(ws.bib_paths_for(draft)))
    return [path for path in paths if os.path.isfile(path)]


def reindex(ws: Workspace, on_progress: Progress, is_cancelled: Callable[[], bool]) -> dict:
    """Add every .bib of the workspace to the index, then embed what is new (model loaded). Its
    vectors never wait for another process writing a large index's graph (ann.py): they stay
    listed, scored exactly, for a later sync."""
    from citewise.bib.index.embed import embed_pending
    from citewise.bib.index.store import Index

    paths = workspace_bib_paths(ws)
    totals = {"files": 0, "added": 0, "updated": 0, "skipped": 0, "embedded": 0}
    with Index.open(ws.index_path, create=True) as index:
        for number, path in enumerate(paths, 1):
            if is_cancelled():
                raise Cancelled(f"reindex cancelled after {number - 1} of {len(paths)} files")
            on_progress(f"indexing {os.path.basename(path)}", int(80 * (number - 1) / max(1, len(paths))))
            state = ws.bib_state(path)
            if state is None:
                continue
            state.file.wait_for_fields()
            summary = index.add_references(list(state.references.values()))
            totals["files"] += 1
            for name in ("added", "updated", "skipped"):
                totals[name] += getattr(summary, name)
        if ws.embedder is not None:
            def embedding_progress(done: int, total: int) -> None:
                if is_cancelled():
                    raise Cancelled(f"reindex cancelled after embedding {done} of {total} references")
                on_progress(f"embedding {done}/{total}", 80 + int(20 * done / max(1, total)))

            totals["embedded"] = embed_pending(index, ws.embedder, embedding_progress, wait_for_graph=False)
    on_progress("done", 100)
    ws.index_changed()
    return totals


def enrich_index(ws: Workspace, on_progress: Progress, is_cancelled: Callable[[], bool],
                 limit: int | None = None) -> EnrichSummary:
    """Fill in authors, year, venue and identifiers of the index's incomplete papers from the
    registries (bib/registries/enrich.py), as `citewise index enrich` does; then embed what changed.
    Cancelling keeps the papers done so far (each one is replaced in a transaction of its own)."""
    from citewise.bib.index.embed import embed_pending
    from citewise.bib.index.store import Index
    from citewise.bib.registries.enrich import enrich_index as enrich
    from citewise.server.features.reference_checks import registries

    def looked_up(done: int, total: int) -> None:
        if is_cancelled():
            raise Cancelled(f"enrichment cancelled after {done} of {total} papers")
        on_progress(f"looked up {done}/{total}", int(90 * done / max(1, total)))

    with Index.open(ws.index_path, create=False) as index:
        summary = enrich(index, registries(ws), limit=limit, on_progress=looked_up)
        if ws.embedder is not None:
            embed_pending(index, ws.embedder, wait_for_graph=False)
    on_progress("done", 100)
    ws.index_changed()
    return summary


def _zotero_settings(ws: Workspace):
    from citewise.bib.zotero.client import make_settings

    return make_settings(library=ws.settings.zotero_library, collection=ws.settings.zotero_collection)


def sync_zotero(ws: Workspace, on_progress: Progress) -> dict:
    """Pull the configured Zotero library into the index."""
    from citewise.bib.index.store import Index
    from citewise.bib.zotero.sync import sync_library

    settings = _zotero_settings(ws)

    def progress(done: int, total: int) -> None:
        on_progress(f"Zotero {done}/{total}", int(100 * done / total) if total else None)

    with Index.open(ws.index_path, create=True) as index:
        summary = sync_library(index, settings, progress)
    ws.index_changed()
    return {"added": summary.added, "updated": summary.updated, "deleted": summary.deleted}


def push_to_zotero(ws: Workspace, key: str) -> str:
    """Add the paper cited as `key` to the Zotero library; its Zotero item key.

    Runs after the citation edit was applied: a failure raises CitewiseError for the
    client to show, and the local edit stays.
    """
    from citewise.bib.index.location import index_exists
    from citewise.bib.index.store import Index
    from citewise.bib.zotero.push import push_reference

    ref = None
    for path in ws.known_bib_paths():
        state = ws.bib_state(path)
        entry = state.entry(key) if state else None
        if entry is not None:
            state.file.wait_for_fields()
            ref = state.references.get(entry.key)
            break
    if ref is None and index_exists(ws.index_path):
        with Index.open(ws.index_path, create=False) as index:
            ref = index.get(key)
    if ref is None:
        raise CitewiseError(f"cannot add {key!r} to Zotero: no such reference")
    return push_reference(_zotero_settings(ws), ref)


def status(ws: Workspace) -> WorkspaceStatus:
    return ws.status()
