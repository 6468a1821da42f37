"""Citation-key completion: the draft's .bib entries first, then papers from the index.

Ranking fuses how well the typed text matches (key, author family names, title words,
year; prefix matches first, rapidfuzz for typos) with how well the paper fits the
sentence around the cursor (the index search for that sentence, dense once the model
is loaded). The candidate tables (completion_tables.py) are built once per .bib state
and per index revision, so a keystroke only matches and ranks; the sentence's search is
cached per query. At most MAX_BIB_CANDIDATES + MAX_INDEX_CANDIDATES items are sent.

Results are always partial (the client should mark the list incomplete and ask again
as the user types): the ranking and the capped lists depend on every letter. `filter_text` starts with the typed text (completed to the word it
matched, `attention` for `atten`), so that clients filtering by prefix keep
`vaswaniAttentionAllYou2017` when the user typed `atten`, and a typo the server forgave
(`difusion`) is not filtered away again. The index papers offered are remembered
(features/accept.py), so that accepting one adds its .bib entry in every client.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from citewise.bib.bibtex.reader import entry_to_reference
from citewise.bib.model import Reference
from citewise.server.drafts.model import CitationContext
from citewise.server.drafts.project import citation_at
from citewise.server.features.accept import remember_offers
from citewise.server.features.completion_tables import (
    FUZZY_CUTOFF,
    SMALL_BIB_CHARS,
    BibTable,
    Entry,
    IndexTables,
    typed_score,
)
from citewise.server.features.cursor_query import context_hits, cursor_context
from citewise.server.features.edits import declaration_edit, target_bib_path
from citewise.server.features.positions import Pos, Range, TextEdit
from citewise.server.features.render import plain, reference_markdown
from citewise.server.features.workspace import BibState, Document, Workspace

MAX_BIB_CANDIDATES = 30
MAX_INDEX_CANDIDATES = 10
TYPED_WEIGHT = 0.7
CONTEXT_WEIGHT = 0.3
BACKGROUND_BATCH = 8  # small batches keep the model's working memory low (~190 MB less than 64)
FIELDS_WAIT_S = 5.0  # bounded for a machine under load; a small file takes milliseconds
# While the first index table is built, typed text is matched by the index's own lookups, among
# this many papers per lookup: each one read is a step of SQLite, which hands the GIL to the
# thread building the table and waits to get it back (200 per lookup took 60-250 ms then).
FALLBACK_CANDIDATES = 3 * MAX_INDEX_CANDIDATES
MIN_INDEX_FUZZY_CHARS = 3  # one or two letters match too much of a large index to rank in time
INDEX_TABLES = IndexTables()


@dataclass
class CompletionCandidate:
    key: str
    detail: str
    documentation_md: str
    filter_text: str
    sort_text: str
    in_bib: bool
    insert_text: str = ""
    replace_range: Range | None = None
    additional_text_edits: list[TextEdit] = field(default_factory=list)
    score: float = 0.0


_INDEX_ENTRIES: OrderedDict[str, tuple[int, Entry]] = OrderedDict()  # key -> (index revision last read, entry)
_INDEX_ENTRIES_SIZE = 2_000


def _index_entry(ref: Reference, revision: int) -> Entry:
    """The prepared entry of an index paper, reused while the paper stays the same."""
    held = _INDEX_ENTRIES.get(ref.key)
    entry = held[1] if held is not None and held[1].ref == ref else Entry.of(ref)
    _INDEX_ENTRIES[ref.key] = (revision, entry)
    if len(_INDEX_ENTRIES) > _INDEX_ENTRIES_SIZE:
        _INDEX_ENTRIES.popitem(last=False)
    return entry


def citation_context(document: Document, pos: Pos, extra_cite_macros: tuple[str, ...] = ()) -> CitationContext | None:
    """The citation the cursor is in, or None (also for text the parser cannot read)."""
    if document.language is None:
        return None
    line, col = document.lines.char_col(pos)
    try:
        return citation_at(document.text, document.language, line, col, extra_cite_macros)
    except (ValueError, RecursionError):
        return None


def complete(ws: Workspace, uri: str, pos: Pos) -> list[CompletionCandidate]:
    document = ws.document(uri)
    if document is None:
        return []
    context = citation_context(document, pos, ws.extra_cite_macros())
    if context is None:
        return []
    r = context.range
    key_range = document.lines.lsp_range(r.start_line, r.start_col, r.end_line, r.end_col)
    under_cursor = document.lines.line_text(r.start_line)[r.start_col:r.end_col] if r.start_line == r.end_line else ""
    excluded = set(context.keys_present) - {under_cursor}
    as_typed = context.prefix.strip()
    typed = as_typed.lower()
    states = ws.bib_states_for(uri)
    for state in states:  # a small .bib just read: its fields come within milliseconds, wait for them once
        if not state.ready and len(state.file.text) <= SMALL_BIB_CHARS and "fields-waited" not in state.derived:
            state.derived["fields-waited"] = state.file.wait_for_fields(FIELDS_WAIT_S)
    tables = [BibTable.of(state, ws.lanes) for state in states]
    contexts, sentence_hits = _sentence_relevance(ws, document, pos, states, tables)
    ranked_bib = _rank_bib(tables, typed, contexts, excluded)
    ranked_index = _rank_index(ws, tables, typed, sentence_hits, excluded)

    insert_prefix = "@" if context.insert_style == "at-key" else ""
    candidates = []
    # Papers holding what was typed come first (.bib, then index); those matched only fuzzily or by
    # the sentence follow (.bib, then index).
    for rank, (score, entry) in enumerate(ranked_bib):
        group = "0" if typed in entry.haystack else "2"
        candidates.append(_candidate(entry, as_typed, score, f"{group}{rank:05d}", True, insert_prefix, key_range))
    if ranked_index:
        bib_path = target_bib_path(ws, uri)
        declaration = declaration_edit(ws, document, bib_path)
        for rank, (score, entry) in enumerate(ranked_index):
            group = "1" if typed in entry.haystack else "3"
            candidate = _candidate(entry, as_typed, score, f"{group}{rank:05d}", False, insert_prefix, key_range)
            candidate.additional_text_edits = [declaration] if declaration else []
            candidates.append(candidate)
    remember_offers(ws, uri, [entry.ref for _, entry in ranked_index])
    return candidates


def documentation(ws: Workspace, uri: str, key: str) -> str | None:
    """The Markdown card of `key` (a completion item being resolved): the draft's .bib, else the index."""
    for state in ws.bib_states_for(uri):
        entry = state.entry(key)
        if entry is not None:
            table = BibTable.of(state, ws.lanes)
            if table is state.derived.get("completion") and entry.key in table.positions:
                return table.entries[table.positions[entry.key]].markdown
            return reference_markdown(entry_to_reference(entry, state.file.path))
    index = ws.index
    ref = index.get(key) if index is not None else None
    return _index_entry(ref, ws.papers.revision()).markdown if ref is not None else None


def _candidate(entry: Entry, typed: str, score: float, sort_text: str, in_bib: bool,
               insert_prefix: str, key_range: Range) -> CompletionCandidate:
    """`filter_text` is the word `typed` matched, completed and as typed, then the key: enough for
    clients that filter by prefix, and a tenth of the bytes of every word of the paper."""
    matched = _matched_word(entry, typed.lower())
    lead = typed + matched[len(typed):] if matched.startswith(typed.lower()) else typed
    return CompletionCandidate(
        key=entry.key,
        detail=entry.detail,
        documentation_md=entry.markdown,
        filter_text=lead if lead == entry.key else f"{lead} {entry.key}",
        sort_text=sort_text,
        in_bib=in_bib,
        insert_text=insert_prefix + entry.key,
        replace_range=key_range,
        score=round(score, 4),
    )


def _matched_word(entry: Entry, typed: str) -> str:
    """The word of the entry that `typed` matched (the key when it matched the key)."""
    if not typed or entry.key.lower().startswith(typed):
        return entry.key
    prefixed = next((w for w in entry.words if w.startswith(typed)), None)
    if prefixed is not None:
        return prefixed
    if typed in entry.haystack:
        return entry.key
    best = process.extractOne(typed, entry.words, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return best[0] if best else entry.key


def _rank_bib(tables: list[BibTable], typed: str, contexts: list[np.ndarray | None],
              excluded: set[str]) -> list[tuple[float, Entry]]:
    """The best MAX_BIB_CANDIDATES entries: typed score and sentence context, weighted; an
    entry in several files counts in the first."""
    ranked: list[tuple[float, Entry]] = []
    for number, (table, context) in enumerate(zip(tables, contexts)):
        positions, scores = table.matches(typed, MAX_BIB_CANDIDATES)
        if not positions:
            continue
        final = TYPED_WEIGHT * np.asarray(scores, dtype=np.float64)
        if context is not None:
            final += CONTEXT_WEIGHT * context[positions]
        taken = 0
        for i in np.argsort(-final, kind="stable").tolist():
            entry = table.entries[positions[i]]
            if entry.key in excluded or any(entry.key in earlier.positions for earlier in tables[:number]):
                continue
            ranked.append((float(final[i]), entry))
            taken += 1
            if taken == MAX_BIB_CANDIDATES:
                break
    ranked.sort(key=lambda item: -item[0])
    return ranked[:MAX_BIB_CANDIDATES]


def _rank_index(ws: Workspace, tables: list[BibTable], typed: str, sentence_hits: list,
                excluded: set[str]) -> list[tuple[float, Entry]]:
    if ws.searcher is None:
        return []

    def skipped(key: str) -> bool:
        return key in excluded or any(key in table.positions for table in tables)

    revision = ws.papers.revision()
    entries = _current_entries(ws, [hit.ref for hit in sentence_hits], revision)
    if len(typed) >= MIN_INDEX_FUZZY_CHARS:
        entries = _typed_index_entries(ws, typed, skipped, revision) + entries
    top_context = max((h.score for h in sentence_hits), default=0.0) or 1.0
    context_by_key = {h.ref.key: h.score / top_context for h in sentence_hits}
    scored = []
    seen: set[str] = set()
    for entry in entries:
        if skipped(entry.key) or entry.key in seen or any(table.same_paper(entry) for table in tables):
            continue
        seen.add(entry.key)
        score = typed_score(entry.words[0], entry.haystack, typed)
        if typed and score == 0:
            continue
        scored.append((TYPED_WEIGHT * score + CONTEXT_WEIGHT * context_by_key.get(entry.key, 0.0), entry))
    scored.sort(key=lambda item: -item[0])
    return scored[:MAX_INDEX_CANDIDATES]


def _current_entries(ws: Workspace, refs: list[Reference], revision: int) -> list[Entry]:
    """The entries of `refs` as the index holds them now: the sentence's hits may come from an
    earlier revision (`context_hits(latest=False)`); those not read since are read again."""
    stale = [ref.key for ref in refs if _INDEX_ENTRIES.get(ref.key, (None,))[0] != revision]
    index = ws.index
    fresh = index.get_many(stale) if stale and index is not None else {}
    entries = []
    for ref in refs:
        if ref.key in fresh:
            entries.append(_index_entry(fresh[ref.key], revision))
        elif ref.key not in stale:
            entries.append(_INDEX_ENTRIES[ref.key][1])
    return entries


def _typed_index_entries(ws: Workspace, typed: str, skipped: Callable[[str], bool], revision: int) -> list[Entry]:
    """Index papers matching the typed text: from the index table (the papers it names are
    read once per index revision), else (while the first table is being built) from the
    index's fuzzy queries."""
    table = INDEX_TABLES.current(ws)
    searcher, index = ws.searcher, ws.index
    if table is None or index is None:
        assert searcher is not None  # _rank_index checked
        hits = searcher.fuzzy_candidates(typed, k=MAX_INDEX_CANDIDATES, candidates=FALLBACK_CANDIDATES)
        return [_index_entry(hit.ref, revision) for hit in hits]
    found = table.candidates(typed, MAX_INDEX_CANDIDATES, skipped)
    missing = [row_id for row_id, key in found if _INDEX_ENTRIES.get(key, (None,))[0] != revision]
    fetched = {ref.key: ref for ref, _ in index.get_by_ids(missing).values()} if missing else {}
    entries = []
    for _, key in found:
        if key in fetched:
            entries.append(_index_entry(fetched[key], revision))
        elif _INDEX_ENTRIES.get(key, (None,))[0] == revision:
            entries.append(_INDEX_ENTRIES[key][1])
    return entries


def _sentence_relevance(ws: Workspace, document: Document, pos: Pos, states: list[BibState],
                        tables: list[BibTable]) -> tuple[list[np.ndarray | None], list]:
    """Context scores (0..1) of each .bib's entries (in table order; None for none) for the
    text around the cursor, and the index hits for that text.

    An entry scores by the index search for that text (when the index holds the same
    paper) and, once the model is loaded and the entry vectors are computed, by cosine
    similarity between the text and the entry's title. Kept per query while keys are typed.
    """
    query = cursor_context(document.text, document.lines.offset_of(pos)).query
    if len(query) < 12:
        return [None] * len(tables), []
    hits, query_vector = context_hits(ws, query, latest=False, embed_here=False)
    vectors = [bib_vectors(ws, state) for state in states] if query_vector is not None else [None] * len(states)
    cache_key = (query, ws.papers.revision(), ws.papers.model_state(), query_vector is not None,
                 tuple(t.serial for t in tables), tuple(v is not None for v in vectors))
    cached = _RELEVANCE.get(cache_key)
    if cached is None:
        cached = _RELEVANCE[cache_key] = [_relevance(table, hits, query_vector, table_vectors)
                                          for table, table_vectors in zip(tables, vectors)]
        if len(_RELEVANCE) > _RELEVANCE_SIZE:
            _RELEVANCE.popitem(last=False)
    return cached, hits


_RELEVANCE: OrderedDict[tuple, list[np.ndarray | None]] = OrderedDict()
_RELEVANCE_SIZE = 16


def _relevance(table: BibTable, hits: list, query_vector, vectors) -> np.ndarray | None:
    scores = np.zeros(len(table.entries))
    top = max((h.score for h in hits), default=0.0) or 1.0
    for hit in hits:
        key = table.same_paper(Entry.of(hit.ref)) or hit.ref.key
        position = table.positions.get(key)
        if position is not None:
            scores[position] = max(scores[position], hit.score / top)
    if vectors is not None and len(vectors) == len(table.entries) and len(vectors):
        similarity = np.clip(vectors @ query_vector, 0.0, None)
        scores = np.maximum(scores, similarity / (float(similarity.max()) or 1.0))
    return scores if scores.any() else None


def bib_vectors(ws: Workspace, state: BibState, wait: bool = False):
    """Embeddings of a .bib's entry titles (in `BibTable` order), computed on the
    `embed` lane the first time they are asked for after the model loaded; None until
    then. Titles only: a tenth of the cost of title + abstract on a 5,000-entry file; kept on
    disk for the next start (bib/index/vector_cache.py)."""
    vectors = state.derived.get("vectors")
    if vectors is not None or ws.embedder is None or not state.ready:
        return vectors
    table = BibTable.of(state, ws.lanes)
    if table is not state.derived.get("completion"):  # the early table: titles not decoded yet
        return None
    job = state.derived.get("vectors_job")
    if job is None:
        embedder, entries, lanes = ws.embedder, table.entries, ws.lanes

        def embed() -> None:
            from citewise.bib.index.vector_cache import encode_cached

            titles = [plain(e.ref.title) or e.key for e in entries]
            state.derived["vectors"] = encode_cached(embedder, titles, BACKGROUND_BATCH, lanes.yield_to_foreground)

        job = state.derived["vectors_job"] = ws.lanes.submit("embed", embed)
    if wait:
        job.result()
    return state.derived.get("vectors")


def warm_up(ws: Workspace, uri: str, wait: bool = False) -> None:
    """Prepare completion for a draft: parse its .bib files, build candidate tables (the
    index's on the `tables` lane) and, with the model loaded, start embedding their
    entries (`wait` blocks until done)."""
    for state in ws.bib_states_for(uri):
        if wait:
            state.file.wait_for_fields()
            BibTable.of(state, ws.lanes)
            ws.lanes.wait_idle("tables")
        BibTable.of(state, ws.lanes)
        bib_vectors(ws, state, wait)
    if ws.index is not None:
        INDEX_TABLES.wait(ws) if wait else INDEX_TABLES.current(ws)
