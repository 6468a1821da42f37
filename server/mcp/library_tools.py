"""The MCP tools about the paper index: search it, fetch one reference, report its state.

Each function takes the `Session` and validated arguments and returns plain JSON-ready
data, kept short: agents pay for every token. Search is `Searcher.search`, entries
come from the BibTeX writer, the Zotero state from `zotero.sync.library_status`.
"""

from __future__ import annotations

from dataclasses import replace

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference, normalize_arxiv, normalize_doi
from citewise.server.features.render import abstract_start, plain
from citewise.server.mcp.session import Session

TITLE_CHARS = 160
ABSTRACT_CHARS = 400
ENTRY_CHARS = 3_000
SHOWN_SOURCES = 10


def search_papers(session: Session, query: str, k: int, offset: int,
                  year_from: int | None, year_to: int | None) -> dict:
    if year_from is not None and year_to is not None and year_from > year_to:
        raise CitewiseError(f"year_from {year_from} is after year_to {year_to}")
    searcher = session.searcher()
    hits = searcher.search(query, k=offset + k + 1, year_from=year_from, year_to=year_to)
    page = hits[offset:offset + k]
    library = in_library(session, [hit.ref.key for hit in page])
    results = [dict(paper_summary(hit.ref), score=round(float(hit.score), 3), in_library=hit.ref.key in library)
               for hit in page]
    return {"results": results, "next_offset": offset + k if len(hits) > offset + k else None}


def paper_summary(ref: Reference) -> dict:
    """Key, title, first author, year, venue and identifier of a paper; empty fields left out."""
    first = plain(ref.authors[0].family) + (" et al." if len(ref.authors) > 1 else "") if ref.authors else ""
    summary = {"key": ref.key, "title": shorten(plain(ref.title), TITLE_CHARS), "first_author": first,
               "year": ref.year, "venue": shorten(plain(ref.venue), 80),
               "doi": normalize_doi(ref.doi), "arxiv": normalize_arxiv(ref.arxiv) or ref.arxiv}
    return {name: value for name, value in summary.items() if value}


def in_library(session: Session, keys: list[str]) -> set[str]:
    """The keys among `keys` whose paper came from the author's own library: a Zotero
    library or a .bib file, rather than a feed such as a digest or an arXiv dump."""
    index = session.index()
    found = set()
    for ref, sources in index.get_by_ids(index.ids_for_keys(keys)).values():
        if any(source.startswith("zotero") or source.lower().endswith(".bib") for source in sources.split("\n")):
            found.add(ref.key)
    return found


def get_reference(session: Session, key: str | None, doi: str | None, arxiv: str | None,
                  draft_path: str | None) -> dict:
    """One paper's BibTeX entry (its abstract field left out) and the start of its abstract."""
    from citewise.bib.bibtex.writer import format_entry

    given = [name for name, value in (("key", key), ("doi", doi), ("arxiv", arxiv)) if value]
    if len(given) != 1:
        raise CitewiseError("give exactly one of key, doi or arxiv")
    if key and draft_path:
        entry = _from_draft_bib(session, draft_path, key)
        if entry is not None:
            return entry
    ref = _from_index(session, key, doi, arxiv)
    return {"key": ref.key, "bibtex": format_entry(replace(ref, abstract="")).strip(),
            "abstract": abstract_start(ref, ABSTRACT_CHARS), "in_library": ref.key in in_library(session, [ref.key])}


def _from_index(session: Session, key: str | None, doi: str | None, arxiv: str | None) -> Reference:
    from citewise.server.features.key_lookup import near_keys

    index = session.index()
    if key:
        ref = index.get(key)
        if ref is None:
            near = near_keys(key, session.ws.index_keys_like(key))
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise CitewiseError(f"unknown key {key!r}: not in the index{hint}")
        return ref
    probe = Reference(doi=normalize_doi(doi or ""), arxiv=normalize_arxiv(arxiv or "") or (arxiv or ""))
    found = index.find_duplicate(probe) if probe.doi or probe.arxiv else None
    if found is None:
        raise CitewiseError(f"no paper with {'DOI' if doi else 'arXiv id'} {doi or arxiv!r} in the index")
    return index.get(found)


def _from_draft_bib(session: Session, draft_path: str, key: str) -> dict | None:
    from citewise.server.features.key_lookup import bib_reference, defining_states

    document = session.draft(draft_path)
    states = defining_states(session.ws, document.uri, key)
    if not states:
        return None
    entry = states[0].entry(key)
    ref = bib_reference(session.ws, document.uri, key)
    return {"key": entry.key, "bibtex": shorten(entry.raw.strip(), ENTRY_CHARS), "bib": session.roots.shown(states[0].file.path),
            "abstract": abstract_start(ref, ABSTRACT_CHARS) if ref else ""}


def library_status(session: Session) -> dict:
    """Index size, where its papers come from, the model, and each Zotero library's last sync.
    Never the Zotero key."""
    from citewise.bib.zotero.sync import library_status as zotero_libraries

    ws = session.ws
    index = ws.index
    status = {"index": str(ws.index_path), "roots": [str(root) for root in session.roots.paths],
              "read_only": session.read_only}
    if index is None:
        return dict(status, references=0, note="no index yet; build one with `citewise index add`")
    stats = index.overview()
    sources = sorted(stats["sources"].items(), key=lambda item: -item[1])
    status.update(references=stats["references"], embedded=stats["embedded"], model=stats["model"],
                  model_loaded=ws.model_ready,
                  sources=[{"source": session.roots.shown(name) if name.startswith("/") else name, "papers": count}
                           for name, count in sources[:SHOWN_SOURCES]],
                  zotero=zotero_libraries(index))
    if len(sources) > SHOWN_SOURCES:
        status["more_sources"] = len(sources) - SHOWN_SOURCES
    return status


def index_statistics(session: Session) -> dict:
    """`citewise index stats --json`, for the index resource."""
    return session.index().stats()


def shorten(text: str, chars: int) -> str:
    """`text` cut at a word boundary to at most `chars` characters, with an ellipsis."""
    return text if len(text) <= chars else text[: chars - 1].rsplit(" ", 1)[0] + "…"
