"""Hybrid search over the index: BM25, dense vectors and fuzzy matching, fused by rank.

Each signal ranks its own candidates; reciprocal-rank fusion adds `weight / (RRF_K + rank)`
per signal, so a paper found by several signals rises above one found by a single signal.
Without an embedder the searcher still works from BM25 and fuzzy matching. With one, the
word signals run on a worker thread while the query is embedded, using both cores; they query
the index's `concurrent_reader` (on PostgreSQL a connection of their own, where the dense
signal's query would otherwise wait for theirs). The index
(SQLite, or PostgreSQL) answers the candidate queries; this module never writes SQL.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from citewise.bib.index.embed import Embedder
from citewise.bib.index.sqlite_queries import Limits
from citewise.bib.index.store import Index
from citewise.bib.model import Reference
from citewise.bib.text import strip_markup

RRF_K = 60
CANDIDATES_PER_SIGNAL = 100
WEIGHTS = {"lexical": 1.0, "dense": 1.0, "fuzzy": 1.0}
SHORT_QUERY_WORDS = 5
MAX_QUERY_TERMS = 48
MIN_PREFIX_LENGTH = 3
CANDIDATE_LIMIT = 200
ENCODED_CACHE_SIZE = 256
# The index scores every paper that holds any query word, so a long query over a large
# index is slow. The rarest words carry the BM25 signal: they are kept until together they
# occur in this many papers; the common rest is left to the dense signal.
LEXICAL_POSTINGS_BUDGET = 5_000
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
    or other our ours out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while who whom why will
    with would you your et al e g i e eg ie fig figure table section see""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")


@dataclass
class SearchHit:
    """One result: the paper, its fused score (1.0 = ranked first by every signal) and each signal's score."""

    ref: Reference
    score: float
    lexical: float = 0.0
    dense: float = 0.0
    fuzzy: float = 0.0
    row_id: int = -1


@dataclass
class _Ranked:
    """One signal's candidates, best first: row ids and that signal's scores in [0, 1]."""

    ids: list[int]
    scores: list[float]


class Searcher:
    """Searches one index; give it an embedder (now or via `set_embedder`) for dense ranking.

    The index (SQLite or PostgreSQL) answers the candidate queries; the searcher only ranks
    and fuses, so it works the same on either backend.
    """

    def __init__(self, index: Index, embedder: Embedder | None = None):
        self.index = index
        self.embedder: Embedder | None = None
        self._paper_counts: dict[tuple[str, int | None], int] = {}  # (term, counted up to) -> papers
        self._counts_revision = -1
        self._sqlite_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-sqlite")
        self._encoded: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._encoded_lock = threading.Lock()
        if embedder is not None:
            self.set_embedder(embedder)

    def set_embedder(self, embedder: Embedder) -> None:
        """Switch to hybrid ranking; refuses a model other than the one the index was embedded with."""
        self.index.check_model(embedder.name, embedder.dimension)
        self.embedder = embedder

    def search(
        self,
        query: str,
        k: int = 10,
        year_from: int | None = None,
        year_to: int | None = None,
        source: str | None = None,
        exclude_keys: Collection[str] = (),
        semantic: bool = True,
    ) -> list[SearchHit]:
        """The `k` best papers for `query` (plain text, LaTeX or Markdown); with `semantic=False`
        by its words alone, as without an embedder."""
        text = strip_markup(query)
        words = _WORD.findall(text)
        if not words:
            return []
        limits = Limits(year_from, year_to, source) if year_from is not None or year_to is not None or source else None
        excluded = self.index.ids_for_keys(exclude_keys) if exclude_keys else set()
        depth = max(CANDIDATES_PER_SIGNAL, 3 * k)
        if self.embedder is None or not semantic:
            return self._fuse(self._word_signals(text, words, depth, limits), k, excluded)
        from_words = self._sqlite_worker.submit(self._word_signals, text, words, depth, limits)
        dense = self._dense(text, depth, limits)
        return self._fuse({**from_words.result(), "dense": dense}, k, excluded)

    @property
    def _words(self) -> Index:
        """The index the word signals query (`Index.concurrent_reader`)."""
        return self.index.concurrent_reader()

    def _word_signals(self, text: str, words: list[str], depth: int, limits: Limits | None) -> dict[str, _Ranked]:
        signals = {"lexical": self._lexical(words, depth, limits)}
        if len(words) <= SHORT_QUERY_WORDS:
            signals["fuzzy"] = self._fuzzy(text, depth, limits)
        return signals

    def fuzzy_candidates(self, typed: str, k: int = 50, candidates: int = CANDIDATE_LIMIT) -> list[SearchHit]:
        """Papers matching a few typed characters: a key prefix, an author, title words, a year;
        ranked among at most `candidates` papers from each of those lookups."""
        ranked = self._fuzzy(strip_markup(typed), k, None, candidates)
        found = self.index.get_by_ids(ranked.ids)
        return [SearchHit(found[i][0], score, fuzzy=score, row_id=i) for i, score in zip(ranked.ids, ranked.scores)
                if i in found]

    # Signals

    def _lexical(self, words: list[str], depth: int, limits: Limits | None) -> _Ranked:
        terms = self._selective(_query_terms(words))
        if not terms:
            return _Ranked([], [])
        rows = self._words.lexical_candidates(terms, depth, limits)
        best = rows[0][1] if rows and rows[0][1] > 0 else 1.0
        return _Ranked([row[0] for row in rows], [row[1] / best for row in rows])

    def _selective(self, terms: list[str]) -> list[str]:
        """The rarest query terms that together occur in at most LEXICAL_POSTINGS_BUDGET papers.

        Without an embedder at least the rarest term is kept, so lexical search never comes back empty.
        """
        if self._words.revision() != self._counts_revision:
            self._paper_counts = {("", None): self._words.count()}
            self._counts_revision = self._words.revision()
        if self._paper_counts["", None] <= LEXICAL_POSTINGS_BUDGET:
            return terms
        kept: list[str] = []
        postings = 0
        for term in sorted(terms, key=self._papers_with):
            postings += self._papers_with(term)
            if postings > LEXICAL_POSTINGS_BUDGET and (kept or self.embedder is not None):
                break
            kept.append(term)
        return kept

    def _papers_with(self, term: str) -> int:
        """How many papers hold `term`. With an embedder a term over the budget is never kept,
        so counting stops just past it (a word in half of a million papers took 55 ms to count
        in full); without one the rarest term is kept whatever its count, so counts are exact."""
        at_most = LEXICAL_POSTINGS_BUDGET + 1 if self.embedder is not None else None
        if (term, at_most) not in self._paper_counts:
            self._paper_counts[term, at_most] = self._words.papers_with(term, at_most)
        return self._paper_counts[term, at_most]

    def _dense(self, text: str, depth: int, limits: Limits | None) -> _Ranked:
        rows = self.index.dense_candidates(self.encode(text), depth, limits)
        return _Ranked([row[0] for row in rows], [row[1] for row in rows])

    def query_vector(self, query: str) -> np.ndarray:
        """The embedding `search(query)` ranks densely with (cached: asking after a search is free)."""
        return self.encode(strip_markup(query))

    def embedded(self, query: str) -> bool:
        """Whether `query_vector(query)` is cached: answered without computing anything."""
        embedder = self.embedder
        with self._encoded_lock:
            return embedder is not None and (id(embedder), strip_markup(query)) in self._encoded

    def encode(self, text: str) -> np.ndarray:
        """The unit-length query embedding of plain `text` (zeros for no text), cached per
        embedder and text: a keystroke's queries repeat most of the ones before it."""
        embedder = self.embedder
        assert embedder is not None, "encode needs the model"
        key = (id(embedder), text)
        with self._encoded_lock:
            vector = self._encoded.get(key)
            if vector is not None:
                self._encoded.move_to_end(key)
                return vector
        vector = embedder.encode([text])[0] if text else np.zeros(embedder.dimension, dtype=np.float32)
        with self._encoded_lock:
            self._encoded[key] = vector
            if len(self._encoded) > ENCODED_CACHE_SIZE:
                self._encoded.popitem(last=False)
        return vector

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The `k` embedded papers closest to `vector` (any length) by cosine: (row id, similarity),
        best first. Exact on a small SQLite index; the HNSW file or pgvector answers a large one."""
        vector = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return self.index.nearest(vector / norm if norm else vector, k, None)

    def vectors_of(self, row_ids: list[int]) -> np.ndarray:
        """The stored vectors of the given rows (float32; a zero row for one without a vector)."""
        assert self.embedder is not None, "vectors_of needs the model"
        return self.index.vectors_of(row_ids, self.embedder.dimension)

    def _fuzzy(self, text: str, depth: int, limits: Limits | None, limit: int = CANDIDATE_LIMIT) -> _Ranked:
        words = _WORD.findall(text.lower())
        years = {word for word in words if _YEAR.match(word)}
        names = [word for word in words if word not in years]
        typed = text.strip()
        candidates = self._words.key_prefix_ids(typed, limit) if typed and " " not in typed else set()
        candidates |= self._word_prefix_ids(names, years, limit)
        if len(candidates) < depth:
            candidates |= self._words.similar_author_ids(names, limit)
        if limits is not None:
            candidates = self._words.limited_ids(limits, among=candidates)
        labels = self._words.labels(candidates)
        query = text.lower().strip()
        texts = [f"{key} {authors} {year} {title}".lower() for key, year, authors, title in labels.values()]
        similarity = process.cdist([query], texts, scorer=fuzz.WRatio)
        scored = []
        for (row_id, (key, year, _, _)), score in zip(labels.items(), similarity[0] / 100 if labels else []):
            score = 1.0 if key.lower().startswith(query) else float(score)
            if years and year not in years:
                score *= 0.5
            scored.append((score, row_id))
        scored.sort(reverse=True)
        scored = scored[:depth]
        return _Ranked([row_id for _, row_id in scored], [score for score, _ in scored])

    def _word_prefix_ids(self, names: list[str], years: set[str], limit: int) -> set[int]:
        """Papers holding every typed word in title, authors or key; the last word may be unfinished."""
        words = [word for word in names if len(word) > 1 and word not in STOPWORDS]
        if words:
            return self._words.word_prefix_ids(words, len(words[-1]) >= MIN_PREFIX_LENGTH, limit)
        if years:
            return self._words.year_ids(years, limit)
        return set()

    # Fusion

    def _fuse(self, signals: dict[str, _Ranked], k: int, excluded: set[int]) -> list[SearchHit]:
        fused: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}
        for name, ranked in signals.items():
            rank = 0
            for row_id, score in zip(ranked.ids, ranked.scores):
                if row_id in excluded:
                    continue
                rank += 1
                fused[row_id] = fused.get(row_id, 0.0) + WEIGHTS[name] / (RRF_K + rank)
                parts.setdefault(row_id, {})[name] = score
        best_possible = sum(WEIGHTS[name] for name in signals) / (RRF_K + 1)
        top = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        found = self.index.get_by_ids(top)
        return [
            SearchHit(found[row_id][0], round(fused[row_id] / best_possible, 4), **_rounded(parts[row_id]), row_id=row_id)
            for row_id in top
            if row_id in found
        ]


def _query_terms(words: list[str]) -> list[str]:
    """Distinct content words of a query, in order, at most MAX_QUERY_TERMS."""
    terms = []
    for word in words:
        word = word.lower()
        if len(word) > 1 and word not in STOPWORDS and not word.isdigit() and word not in terms:
            terms.append(word)
    return terms[:MAX_QUERY_TERMS]


def _rounded(parts: dict[str, float]) -> dict[str, float]:
    return {name: round(score, 4) for name, score in parts.items()}
