"""Citation-key completion: the draft's .bib entries first, then papers from the index.

Ranking fuses how well the typed text matches (key, author family names, title words,
year; prefix matches first, rapidfuzz for typos) with how well the paper fits the
sentence around the cursor (the index search for that sentence, dense once the model
is loaded). Per .bib file the candidate texts are built once and kept until the file
changes; index work is bounded (fuzzy candidates for the typed text, one cached search
for the sentence), so a request stays in the tens of milliseconds on a 5,000-entry
.bib and a 100,000-paper index.

Results are always partial (the client should mark the list incomplete and ask again
as the user types). `filter_text` starts with the typed text (completed to the word it
matched, `attention` for `atten`), so that clients filtering by prefix keep
`vaswaniAttentionAllYou2017` when the user typed `atten`, and a typo the server forgave
(`difusion`) is not filtered away again. The index papers offered are remembered
(features/accept.py), so that accepting one adds its .bib entry in every client.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz import fuzz, process

from citewise.bib.model import Reference, normalize_doi, normalize_title
from citewise.server.drafts.model import CitationContext
from citewise.server.drafts.project import citation_at
from citewise.server.features.accept import remember_offers
from citewise.server.features.cursor_query import context_hits, cursor_context
from citewise.server.features.edits import declaration_edit, target_bib_path
from citewise.server.features.positions import Pos, Range, TextEdit
from citewise.server.features.render import detail_line, plain, reference_markdown
from citewise.server.features.workspace import BibState, Document, Workspace

MAX_BIB_CANDIDATES = 50
MAX_INDEX_CANDIDATES = 10
TYPED_WEIGHT = 0.7
CONTEXT_WEIGHT = 0.3
FUZZY_CUTOFF = 70
BACKGROUND_BATCH = 8  # small batches keep the model's working memory low (~190 MB less than 64)
MIN_INDEX_FUZZY_CHARS = 3  # one or two letters match too much of a large index to rank in time
_WORD = re.compile(r"[a-z0-9]+")


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


@dataclass
class _Entry:
    """One paper prepared for matching: lowercased words; shown texts computed once."""

    key: str
    ref: Reference
    words: list[str]
    haystack: str  # " word word word", for fast word-prefix tests

    @staticmethod
    def of(ref: Reference) -> _Entry:
        families = [plain(a.family).lower() for a in ref.authors]
        title_words = _WORD.findall(normalize_title(plain(ref.title)))
        words = [ref.key.lower()] + [w for f in families for w in _WORD.findall(normalize_title(f))]
        words += title_words + ([ref.year] if ref.year else [])
        return _Entry(ref.key, ref, words, " " + " ".join(words))

    @cached_property
    def detail(self) -> str:
        return detail_line(self.ref)

    @cached_property
    def markdown(self) -> str:
        return reference_markdown(self.ref)


_INDEX_ENTRIES: OrderedDict[tuple, _Entry] = OrderedDict()
_INDEX_ENTRIES_SIZE = 2_000


def _index_entry(ref: Reference, revision: int) -> _Entry:
    """The prepared entry of an index paper, reused while the index keeps its revision."""
    identity = (revision, ref.key)
    entry = _INDEX_ENTRIES.get(identity)
    if entry is None:
        entry = _INDEX_ENTRIES[identity] = _Entry.of(ref)
        if len(_INDEX_ENTRIES) > _INDEX_ENTRIES_SIZE:
            _INDEX_ENTRIES.popitem(last=False)
    return entry


@dataclass
class _BibCandidates:
    """Per-.bib precomputation, stored in `BibState.derived` and dropped when the file changes."""

    entries: list[_Entry]
    haystacks: list[str]
    keys: set[str]
    by_doi: dict[str, str]
    by_title: dict[str, str]

    @staticmethod
    def of(state: BibState) -> _BibCandidates:
        return state.derive("completion", _BibCandidates.build)

    @staticmethod
    def build(state: BibState) -> _BibCandidates:
        entries = [_Entry.of(ref) for ref in state.references.values()]
        return _BibCandidates(
            entries,
            [e.haystack for e in entries],
            {e.key for e in entries},
            {normalize_doi(e.ref.doi): e.key for e in entries if e.ref.doi},
            {normalize_title(e.ref.title): e.key for e in entries if e.ref.title},
        )


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
    context_scores, sentence_hits = _sentence_relevance(ws, document, pos)

    bib_states = ws.bib_states_for(uri)
    tables = [_BibCandidates.of(state) for state in bib_states]
    ranked_bib = _rank_bib(tables, typed, context_scores, excluded)
    in_bib_keys = set().union(*(table.keys for table in tables))
    ranked_index = _rank_index(ws, tables, typed, sentence_hits, excluded | in_bib_keys)

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
            ref = state.references.get(entry.key)
            if ref is not None:
                return reference_markdown(ref)
    index = ws.index
    ref = index.get(key) if index is not None else None
    return _index_entry(ref, ws.papers.revision()).markdown if ref is not None else None


def _candidate(entry: _Entry, typed: str, score: float, sort_text: str, in_bib: bool,
               insert_prefix: str, key_range: Range) -> CompletionCandidate:
    matched = _matched_word(entry, typed.lower())
    lead = typed + matched[len(typed):] if matched.startswith(typed.lower()) else typed
    return CompletionCandidate(
        key=entry.key,
        detail=entry.detail,
        documentation_md=entry.markdown,
        filter_text=" ".join(dict.fromkeys([lead, entry.key] + entry.words[1:])),
        sort_text=sort_text,
        in_bib=in_bib,
        insert_text=insert_prefix + entry.key,
        replace_range=key_range,
        score=round(score, 4),
    )


def _typed_score(entry: _Entry, typed: str) -> float:
    """How well `typed` matches the entry, 0..1: key prefix, word prefix, substring, typo."""
    if not typed or entry.key.lower().startswith(typed):
        return 1.0
    if " " + typed in entry.haystack:
        return 0.9
    if typed in entry.haystack:
        return 0.75
    best = process.extractOne(typed, entry.words, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return 0.7 * best[1] / 100 if best else 0.0


def _matched_word(entry: _Entry, typed: str) -> str:
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


def _rank_bib(tables: list[_BibCandidates], typed: str, context_scores: dict[str, float],
              excluded: set[str]) -> list[tuple[float, _Entry]]:
    scored = []
    seen: set[str] = set()
    for table in tables:
        for entry, typed_score in _matches(table, typed):
            if entry.key in excluded or entry.key in seen:
                continue
            seen.add(entry.key)
            scored.append((TYPED_WEIGHT * typed_score + CONTEXT_WEIGHT * context_scores.get(entry.key, 0.0), entry))
    scored.sort(key=lambda item: -item[0])
    return scored[:MAX_BIB_CANDIDATES]


def _matches(table: _BibCandidates, typed: str) -> list[tuple[_Entry, float]]:
    """(entry, typed score) for entries the typed text matches at all."""
    if not typed:
        return [(entry, 1.0) for entry in table.entries]
    needle = " " + typed
    matched = [(entry, _typed_score(entry, typed)) for entry in table.entries if typed in entry.haystack]
    if len(matched) >= MAX_BIB_CANDIDATES or len(typed) < 3:
        return matched
    fuzzy = process.extract(typed, table.haystacks, scorer=fuzz.partial_ratio,
                            score_cutoff=FUZZY_CUTOFF, limit=MAX_BIB_CANDIDATES)
    for _, _, position in fuzzy:
        entry = table.entries[position]
        if needle not in entry.haystack and typed not in entry.haystack:
            score = _typed_score(entry, typed)
            if score > 0:
                matched.append((entry, score))
    return matched


def _rank_index(ws: Workspace, tables: list[_BibCandidates], typed: str, sentence_hits: list,
                excluded: set[str]) -> list[tuple[float, _Entry]]:
    searcher = ws.searcher
    if searcher is None:
        return []
    hits = list(sentence_hits)
    if len(typed) >= MIN_INDEX_FUZZY_CHARS:
        hits = searcher.fuzzy_candidates(typed, k=MAX_INDEX_CANDIDATES) + hits
    revision = ws.papers.revision()
    top_context = max((h.score for h in sentence_hits), default=0.0) or 1.0
    context_by_key = {h.ref.key: h.score / top_context for h in sentence_hits}
    scored = []
    seen: set[str] = set()
    for hit in hits:
        ref = hit.ref
        if ref.key in excluded or ref.key in seen or _same_paper_in_bib(tables, ref):
            continue
        seen.add(ref.key)
        entry = _index_entry(ref, revision)
        typed_score = _typed_score(entry, typed)
        if typed and typed_score == 0:
            continue
        scored.append((TYPED_WEIGHT * typed_score + CONTEXT_WEIGHT * context_by_key.get(ref.key, 0.0), entry))
    scored.sort(key=lambda item: -item[0])
    return scored[:MAX_INDEX_CANDIDATES]


def _same_paper_in_bib(tables: list[_BibCandidates], ref: Reference) -> bool:
    doi = normalize_doi(ref.doi) if ref.doi else ""
    title = normalize_title(ref.title) if ref.title else ""
    return any((doi and doi in t.by_doi) or (title and title in t.by_title) for t in tables)


def _sentence_relevance(ws: Workspace, document: Document, pos: Pos) -> tuple[dict[str, float], list]:
    """Context scores (0..1) of .bib keys for the text around the cursor, and the index hits.

    A .bib entry scores by the index search for that text (when the index holds the same
    paper) and, once the model is loaded and the entry vectors are computed, by cosine
    similarity between the text and the entry's title. Kept per query while keys are typed.
    """
    query = cursor_context(document.text, document.lines.offset_of(pos)).query
    if len(query) < 12:
        return {}, []
    hits, query_vector = context_hits(ws, query)
    states = ws.bib_states_for(document.uri)
    vectors = [bib_vectors(ws, state) for state in states] if query_vector is not None else []
    cache_key = (query, ws.papers.revision(), ws.papers.model_state(),
                 tuple(s.version for s in states), tuple(v is not None for v in vectors))
    cached = _RELEVANCE.get(cache_key)
    if cached is None:
        cached = _RELEVANCE[cache_key] = _relevance(states, hits, query_vector, vectors)
        if len(_RELEVANCE) > _RELEVANCE_SIZE:
            _RELEVANCE.popitem(last=False)
    return cached, hits


_RELEVANCE: OrderedDict[tuple, dict[str, float]] = OrderedDict()
_RELEVANCE_SIZE = 16


def _relevance(states: list[BibState], hits: list, query_vector, vectors: list) -> dict[str, float]:
    top = max((h.score for h in hits), default=0.0) or 1.0
    scores: dict[str, float] = {}
    tables = [_BibCandidates.of(state) for state in states]
    for hit in hits:
        relevance = hit.score / top
        for key in _bib_keys_of(tables, hit.ref):
            scores[key] = max(scores.get(key, 0.0), relevance)
    for table, table_vectors in zip(tables, vectors):
        if table_vectors is None or len(table_vectors) != len(table.entries):
            continue
        import numpy as np

        similarity = np.clip(table_vectors @ query_vector, 0.0, None)
        best = float(similarity.max()) if len(similarity) else 0.0
        for entry, value in zip(table.entries, (similarity / (best or 1.0)).tolist()):
            if value > scores.get(entry.key, 0.0):
                scores[entry.key] = value
    return scores


def bib_vectors(ws: Workspace, state: BibState, wait: bool = False):
    """Embeddings of a .bib's entry titles (in `_BibCandidates` order), computed on the
    `embed` lane the first time they are asked for after the model loaded; None until
    then. Titles only: a tenth of the cost of title + abstract on a 5,000-entry file."""
    vectors = state.derived.get("vectors")
    if vectors is not None or ws.embedder is None or not state.ready:
        return vectors
    job = state.derived.get("vectors_job")
    if job is None:
        embedder, entries = ws.embedder, _BibCandidates.of(state).entries

        def embed() -> None:
            titles = [plain(e.ref.title) or e.key for e in entries]
            state.derived["vectors"] = embedder.encode(titles, batch_size=BACKGROUND_BATCH)

        job = state.derived["vectors_job"] = ws.lanes.submit("embed", embed)
    if wait:
        job.result()
    return state.derived.get("vectors")


def warm_up(ws: Workspace, uri: str, wait: bool = False) -> None:
    """Prepare completion for a draft: parse its .bib files, build candidate tables and,
    with the model loaded, start embedding their entries (`wait` blocks until done)."""
    for state in ws.bib_states_for(uri):
        if wait:
            state.file.wait_for_fields()
        _BibCandidates.of(state)
        bib_vectors(ws, state, wait)


def _bib_keys_of(tables: list[_BibCandidates], ref: Reference) -> list[str]:
    """The .bib keys that hold the same paper as index reference `ref`."""
    doi = normalize_doi(ref.doi) if ref.doi else ""
    title = normalize_title(ref.title) if ref.title else ""
    keys = []
    for table in tables:
        key = (doi and table.by_doi.get(doi)) or (title and table.by_title.get(title))
        if key:
            keys.append(key)
    return keys or [ref.key]
