"""Ranking suggestions from everything the draft knows, not only the sentence at the cursor.

Candidates are the index's hybrid hits for the sentence (bib/index/search.py), the papers
closest to the surroundings of the cursor (a fixed mix, POOL_MIX, of the sentence, paragraph,
headings and captions, title and abstract: server/features/surroundings.py; fixed so that fitting
WEIGHTS never changes which papers are candidates), the draft's own .bib entries closest to them, and
papers other drafts of the workspace cite together with what this draft cites, and, through the
index's citation links (bib/index/citation_links.py), papers the index's papers cite together with
what this draft cites and papers that cite it. Each candidate
gets one value per signal in FEATURES, about 0..1; its score is the weighted sum. WEIGHTS
are fitted by bench/bench_suggestions.py on its fit split (the `feedback` weight is set by
hand: the benchmark has no feedback). Each candidate also keeps the evidence behind its
strongest signals, from which `reason` says in a few words why it is suggested.

Everything here is cached per query text, per .bib parse, per index revision and per
workspace scan, so a keystroke costs the sentence search, one embedding of the paragraph (on a
helper thread, beside the search: the model runs on one core) and one nearest-neighbour search
for the surroundings.
"""

from __future__ import annotations

import os
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from citewise.bib.model import Reference
from citewise.bib.text import strip_markup
from citewise.server.drafts.model import Citation
from citewise.server.features.citation_evidence import add_link_features, links_for
from citewise.server.features.cursor_query import CursorContext, context_hits, cursor_context
from citewise.server.features.draft_library import Library, library_of
from citewise.server.features.feedback import feedback_for
from citewise.server.features.sentences import Sentence
from citewise.server.features.surroundings import Surroundings, surroundings
from citewise.server.features.workspace import Document, Workspace

FEATURES = ("hybrid", "sentence", "paragraph", "section", "document", "cited_similarity", "cocited",
            "linked_cocited", "cites_cited", "in_bib", "in_zotero", "cited_paragraph", "cited_elsewhere", "feedback")
WEIGHTS: dict[str, float] = {  # fitted by bench/bench_suggestions.py on the dev sets' fit split (345 sites)
    "hybrid": 0.5, "sentence": 0.3, "paragraph": 0.1, "section": 0.3, "document": 0.0,
    "cited_similarity": 0.0, "cocited": 0.2, "linked_cocited": 0.75, "cites_cited": 0.0, "in_bib": 1.0, "in_zotero": 0.05,
    "cited_paragraph": -2.0, "cited_elsewhere": 0.0, "feedback": 0.5,
}
CONTEXT_SIGNALS = ("sentence", "paragraph", "section", "document")  # dense similarities to the query texts
POOL_MIX = {"sentence": 0.3, "paragraph": 0.75, "section": 2.0, "document": 0.0}  # the query gathering candidates
POOL = 50
MIN_QUERY_CHARS = 20
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")
_HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-surroundings")  # joined within each call


@dataclass
class Candidate:
    row_id: int
    ref: Reference
    key: str  # its .bib key when the draft's .bib holds it, else its index key
    features: dict[str, float]
    evidence: dict[str, str] = field(default_factory=dict)
    score: float = 0.0


@dataclass
class Ranking:
    sentence: Sentence | None
    nearby_keys: set[str]  # cited in the sentence or its neighbour: never suggested
    candidates: list[Candidate]  # best first


def rank(ws: Workspace, document: Document, offset: int, weights: dict[str, float] | None = None,
         wait_for_library: bool = True) -> Ranking:
    """Every candidate for a citation at `offset`, scored and sorted with `weights` (default
    WEIGHTS); without `wait_for_library`, a draft whose library is not built yet is ranked
    without it (draft_library.py)."""
    ranking = candidates_at(ws, document, offset, wait_for_library)
    order(ranking.candidates, weights or WEIGHTS)
    return ranking


def order(candidates: list[Candidate], weights: dict[str, float]) -> None:
    """Score candidates as the weighted sum of their features and sort them, best first."""
    for candidate in candidates:
        candidate.score = sum(weights.get(name, 0.0) * value for name, value in candidate.features.items())
    candidates.sort(key=lambda c: c.score, reverse=True)


def embed_ahead(ws: Workspace, document: Document, offset: int) -> Future | None:
    """Embed the texts a ranking at `offset` will query with (the sentence's, the surroundings')
    on the `queries` lane, into the searcher's cache, so that the ranking itself embeds nothing
    on the features thread; None when there is nothing to embed."""
    searcher = ws.searcher
    if not ws.model_ready or searcher is None or searcher.embedder is None:
        return None
    found = _query_texts(ws, document, offset)
    if found is None:
        return None
    context, around = found
    texts = (strip_markup(context.query), around.paragraph, around.section, around.document)
    return ws.lanes.submit("queries", lambda: [searcher.encode(text) for text in texts])


def _query_texts(ws: Workspace, document: Document, offset: int) -> tuple[CursorContext, Surroundings] | None:
    """What a ranking at `offset` asks about: the sentence's query and the surroundings."""
    context = cursor_context(document.text, offset)
    if context.sentence is None or len(context.query) < MIN_QUERY_CHARS:
        return None
    draft = ws.draft_for(document.uri)
    return context, surroundings(document.text, offset, document.language, _root_head(ws, document, draft.root))


def candidates_at(ws: Workspace, document: Document, offset: int, wait_for_library: bool = True) -> Ranking:
    """The candidates for a citation at `offset` with their features, unsorted."""
    searcher = ws.searcher
    found = _query_texts(ws, document, offset) if searcher is not None else None
    if found is None:
        return Ranking(cursor_context(document.text, offset).sentence, set(), [])
    context, around = found
    draft = ws.draft_for(document.uri)
    texts = (around.paragraph, around.section, around.document)
    embedded = (_HELPER.submit(lambda: [searcher.encode(text) for text in texts])
                if ws.model_ready and searcher.embedder is not None else None)  # beside the sentence's search
    hits, sentence_vector = context_hits(ws, context.query, POOL)
    cited = _CitedInDraft(draft.citations, document, context.sentence, context.neighbour, offset)
    library = library_of(ws, document.uri, wait_for_library)
    pool: dict[int, float] = {hit.row_id: float(hit.score) for hit in hits if hit.row_id >= 0}
    surrounding_vectors = embedded.result() if embedded is not None else None
    vectors = None
    if sentence_vector is not None and surrounding_vectors is not None:
        vectors = np.vstack([sentence_vector, *surrounding_vectors])
        combined = sum(POOL_MIX[name] * vectors[i] for i, name in enumerate(CONTEXT_SIGNALS))
        pool_ids = [row_id for row_id, _ in searcher.nearest(combined, POOL)]
        for row_id in (*pool_ids, *library.closest_in_bib(searcher, combined, POOL)):
            pool.setdefault(int(row_id), 0.0)
    cocited = _cocitations(ws, document.path)
    counts = Counter()
    for key in cited.keys:
        counts.update(cocited.get(key, {}))
    for key, _ in counts.most_common(POOL // 2):
        row_id = library.row_of_key(key)
        if row_id is not None:
            pool.setdefault(row_id, 0.0)
    cited_rows = frozenset(row for row in (library.row_of_key(key) for key in cited.keys) if row is not None)
    links = links_for(ws.index, cited_rows, around.title)
    for linked in (links.cited_with, links.citing):
        for row_id, _ in linked.most_common(POOL // 2):
            pool.setdefault(row_id, 0.0)
    for row_id in links.own:
        pool.pop(row_id, None)
    found_refs = _references(ws, list(pool), hits)
    row_list = [row_id for row_id in pool if row_id in found_refs]
    candidates = [Candidate(row_id, found_refs[row_id], library.key_of(row_id, found_refs[row_id]),
                            {"hybrid": pool[row_id]}) for row_id in row_list]
    from_zotero = ws.index.filtered_ids(None, None, "zotero", among=row_list)  # these rows only, by primary key
    if vectors is not None and candidates:
        _add_similarity_features(candidates, searcher, vectors, cited.keys, library, around)
    store = feedback_for(ws)
    for candidate in candidates:
        add_link_features(candidate.row_id, candidate.features, candidate.evidence, links)
        _add_draft_features(candidate, cited, counts, cocited, library, from_zotero, store)
        _add_matched_words(candidate, context.query, around)
    return Ranking(context.sentence, cited.nearby, candidates)


def _add_similarity_features(candidates: list[Candidate], searcher, vectors: np.ndarray, cited_keys: Iterable[str],
                             library: Library, around: Surroundings) -> None:
    """Each candidate's cosine similarity to the sentence, paragraph, section and document
    (`vectors`, in CONTEXT_SIGNALS order; 0 for a part without text of its own), and to the
    closest paper the draft cites but itself."""
    paper_vectors = searcher.vectors_of([candidate.row_id for candidate in candidates])
    similarities = paper_vectors @ vectors.T
    cited_rows = [row for row in (library.row_of_key(key) for key in cited_keys) if row is not None]
    cited = [key for key in cited_keys if library.row_of_key(key) is not None]
    cited_similarity = paper_vectors @ searcher.vectors_of(cited_rows).T if cited_rows else None
    for i, candidate in enumerate(candidates):
        for j, name in enumerate(CONTEXT_SIGNALS):
            candidate.features[name] = float(similarities[i, j]) if j == 0 or _has_text(around, name) else 0.0
        if cited_similarity is not None:
            own = [k for k, key in enumerate(cited) if key != candidate.key]
            if own:
                best = max(own, key=lambda k: cited_similarity[i, k])
                candidate.features["cited_similarity"] = float(cited_similarity[i, best])
                candidate.evidence["cited_similarity"] = cited[best]


def _add_draft_features(candidate: Candidate, cited: _CitedInDraft, counts: Counter, cocited: dict,
                        library: Library, from_zotero: set[int], store) -> None:
    features, key = candidate.features, candidate.key
    together = counts.get(key, 0)
    features["cocited"] = together / (together + 1.0)
    if together:
        partners = [k for k in cited.keys if key in cocited.get(k, {})]
        candidate.evidence["cocited"] = max(partners, key=lambda k: cocited[k][key])
    features["in_bib"] = 1.0 if candidate.row_id in library.rows_in_bib else 0.0
    features["in_zotero"] = 1.0 if candidate.ref.zotero_key or candidate.row_id in from_zotero else 0.0
    features["cited_paragraph"] = 1.0 if key in cited.in_paragraph else 0.0
    features["cited_elsewhere"] = 1.0 if key in cited.elsewhere else 0.0
    features["feedback"] = store.signal(key) if store is not None else 0.0
    for name in FEATURES:
        features.setdefault(name, 0.0)


def _add_matched_words(candidate: Candidate, query: str, around: Surroundings) -> None:
    title = candidate.ref.title.lower()
    matched = [w for w in dict.fromkeys(_WORD.findall(query.lower())) if w[:5] in title]
    if matched:
        candidate.evidence["hybrid"] = " ".join(matched[:3])
    if around.headings:
        candidate.evidence["section"] = around.headings[-1]


def reason(candidate: Candidate, weights: dict[str, float] | None = None) -> str:
    """A few words on why `candidate` is suggested: its two strongest signals."""
    weights = weights or WEIGHTS
    parts = []
    contributions = sorted(((weights.get(name, 0.0) * value, name) for name, value in candidate.features.items()),
                           reverse=True)
    text_said = False
    for contribution, name in contributions:
        if contribution <= 0 or len(parts) == 2:
            break
        evidence = candidate.evidence.get(name, "")
        if name in ("hybrid", "sentence", "paragraph", "section", "document"):
            if text_said:
                continue
            text_said = True
            words = candidate.evidence.get("hybrid")
            if name in ("hybrid", "sentence") and words:
                parts.append(f"matches '{words}' in this sentence")
            elif name == "paragraph" or (name in ("hybrid", "sentence") and not words):
                parts.append("close to this paragraph" if name == "paragraph" else "close to this sentence")
            elif name == "section" and evidence:
                parts.append(f"fits the section '{_short(evidence)}'")
            else:
                parts.append("fits your draft's topic")
        elif name == "cocited" and evidence:
            parts.append(f"cited with {evidence} in your other drafts")
        elif name == "linked_cocited" and evidence:
            parts.append(f"{evidence} it with papers you cite")
        elif name == "cites_cited" and evidence:
            parts.append(f"cites {evidence} you cite")
        elif name == "cited_similarity" and evidence:
            parts.append(f"close to {evidence}, which you cite")
        elif name == "in_bib":
            parts.append("in your .bib")
        elif name == "in_zotero":
            parts.append("in your Zotero library")
        elif name == "cited_elsewhere":
            parts.append("you cite it in another section")
        elif name == "feedback":
            parts.append("you cited it from a suggestion before")
    return "; ".join(parts) or "matches this sentence"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _has_text(around: Surroundings, name: str) -> bool:
    return bool({"paragraph": around.paragraph, "section": around.section, "document": around.document}[name])


def _root_head(ws: Workspace, document: Document, root: str) -> str | None:
    """The draft's root file when `document` is included by another (for title and abstract)."""
    if not root or os.path.abspath(root) == document.path:
        return None
    other = ws.document(root)
    return other.text if other is not None else None


class _CitedInDraft:
    """Keys the draft cites: near the cursor (sentence and neighbour), in its paragraph, elsewhere."""

    def __init__(self, citations: list[Citation], document: Document, sentence: Sentence,
                 neighbour: Sentence | None, offset: int):
        lines = document.lines
        spans = [s for s in (sentence, neighbour) if s]
        near = (lines.position_of(min(s.start for s in spans)).line, lines.position_of(max(s.end for s in spans)).line)
        text = document.text
        start = text.rfind("\n\n", 0, offset)
        end = text.find("\n\n", offset)
        paragraph = (lines.position_of(start + 1 if start >= 0 else 0).line,
                     lines.position_of(end if end >= 0 else len(text)).line)
        self.nearby: set[str] = set()
        self.in_paragraph: set[str] = set()
        self.elsewhere: set[str] = set()
        for citation in citations:
            own = os.path.abspath(citation.file or document.path) == document.path
            for use in citation.keys:
                if own and near[0] <= citation.line <= near[1]:
                    self.nearby.add(use.key)
                elif own and paragraph[0] <= citation.line <= paragraph[1]:
                    self.in_paragraph.add(use.key)
                else:
                    self.elsewhere.add(use.key)
        self.in_paragraph -= self.nearby
        self.elsewhere -= self.nearby | self.in_paragraph
        self.keys = sorted(self.in_paragraph | self.elsewhere)


_REFERENCES: OrderedDict[tuple, Reference] = OrderedDict()
_REFERENCES_SIZE = 2_000


def _references(ws: Workspace, row_ids: list[int], hits: list) -> dict[int, Reference]:
    """The papers of `row_ids` (read-only): the hits' own, then those read for earlier keystrokes
    (cached per index and revision: the pool changes little from one keystroke to the next),
    then the index."""
    index = ws.index
    revision = (index.serial, index.revision())
    found = {hit.row_id: hit.ref for hit in hits if hit.row_id >= 0}
    missing = []
    for row_id in row_ids:
        if row_id in found:
            continue
        ref = _REFERENCES.get((*revision, row_id))
        if ref is None:
            missing.append(row_id)
        else:
            found[row_id] = ref
            _REFERENCES.move_to_end((*revision, row_id))
    for row_id, (ref, _) in index.get_by_ids(missing).items():
        found[row_id] = _REFERENCES[(*revision, row_id)] = ref
    while len(_REFERENCES) > _REFERENCES_SIZE:
        _REFERENCES.popitem(last=False)
    return found


_COCITATIONS: OrderedDict[tuple, dict] = OrderedDict()
_CACHE_SIZE = 8


def _cocitations(ws: Workspace, current: str) -> dict[str, dict[str, int]]:
    """Key -> keys cited beside it in the workspace's other draft files (within two lines; in the
    same citation counts twice); cached until one of them changes."""
    infos = [info for info in (ws.draft_file(path) for path in ws.draft_files() if path != current) if info]
    stamp = tuple((info.path, info.stamp) for info in infos)
    table = _COCITATIONS.get(stamp)
    if table is None:
        table = {}
        for info in infos:
            citations = sorted(info.citations, key=lambda c: c.line)
            for i, citation in enumerate(citations):
                near = [c for c in citations[i:] if c.line - citation.line <= 2]
                keys = {use.key for c in near for use in c.keys}
                for a in {use.key for use in citation.keys}:
                    for b in keys - {a}:
                        table.setdefault(a, Counter())[b] += 1
                        table.setdefault(b, Counter())[a] += 1
        _remember(_COCITATIONS, stamp, table)
    return table


def _remember(cache: OrderedDict, key: tuple, value) -> None:
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
