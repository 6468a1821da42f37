"""Hybrid search over the index: BM25, dense vectors and fuzzy matching, fused by rank.

Each signal ranks its own candidates; reciprocal-rank fusion adds `weight / (RRF_K + rank)`
per signal, so a paper found by several signals rises above one found by a single signal.
Without an embedder the searcher still works from BM25 and fuzzy matching. With one, the
SQLite signals run on a worker thread while the query is embedded, using both cores.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from citewise.bib.index.embed import Embedder
from citewise.bib.index.store import Index
from citewise.bib.model import Reference
from citewise.bib.text import strip_markup

RRF_K = 60
CANDIDATES_PER_SIGNAL = 100
WEIGHTS = {"lexical": 1.0, "dense": 1.0, "fuzzy": 1.0}
SHORT_QUERY_WORDS = 5
MAX_QUERY_TERMS = 48
BM25_COLUMN_WEIGHTS = "3.0, 2.0, 1.0, 2.0, 2.0"  # title, authors, abstract, keywords, key
FAMILY_MATCH_CUTOFF = 80
MIN_PREFIX_LENGTH = 3
# SQLite scores every paper that holds any query word, so a long query over a large
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


@dataclass
class _Ranked:
    """One signal's candidates, best first: row ids and that signal's scores in [0, 1]."""

    ids: list[int]
    scores: list[float]


class Searcher:
    """Searches one index; give it an embedder (now or via `set_embedder`) for dense ranking."""

    def __init__(self, index: Index, embedder: Embedder | None = None):
        self.index = index
        self.embedder: Embedder | None = None
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._matrix = None
        self._loaded_revision = -1
        self._families: list[str] = []
        self._families_revision = -1
        self._paper_counts: dict[str, int] = {}
        self._counts_revision = -1
        self._sqlite_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-sqlite")
        if embedder is not None:
            self.set_embedder(embedder)

    def set_embedder(self, embedder: Embedder) -> None:
        """Switch to hybrid ranking; refuses a model other than the one the index was embedded with."""
        self.index.check_model(embedder.name, embedder.dimension)
        self.embedder = embedder
        self._loaded_revision = -1

    def search(
        self,
        query: str,
        k: int = 10,
        year_from: int | None = None,
        year_to: int | None = None,
        source: str | None = None,
        exclude_keys: Collection[str] = (),
    ) -> list[SearchHit]:
        """The `k` best papers for `query` (plain text, LaTeX or Markdown)."""
        text = strip_markup(query)
        words = _WORD.findall(text)
        if not words:
            return []
        allowed = self._allowed_ids(year_from, year_to, source)
        excluded = self.index.ids_for_keys(exclude_keys) if exclude_keys else set()
        depth = max(CANDIDATES_PER_SIGNAL, 3 * k)
        if self.embedder is None:
            return self._fuse(self._sqlite_signals(text, words, depth, allowed), k, excluded)
        self._load_vectors()
        from_sqlite = self._sqlite_worker.submit(self._sqlite_signals, text, words, depth, allowed)
        dense = self._dense(text, depth, allowed)
        return self._fuse({**from_sqlite.result(), "dense": dense}, k, excluded)

    def _sqlite_signals(self, text: str, words: list[str], depth: int, allowed: set[int] | None) -> dict[str, _Ranked]:
        signals = {"lexical": self._lexical(words, depth, allowed)}
        if len(words) <= SHORT_QUERY_WORDS:
            signals["fuzzy"] = self._fuzzy(text, depth, allowed)
        return signals

    def fuzzy_candidates(self, typed: str, k: int = 50) -> list[SearchHit]:
        """Papers matching a few typed characters: a key prefix, an author, title words, a year."""
        ranked = self._fuzzy(strip_markup(typed), k, None)
        found = self.index.get_by_ids(ranked.ids)
        return [SearchHit(found[i][0], score, fuzzy=score) for i, score in zip(ranked.ids, ranked.scores)
                if i in found]

    # Signals

    def _lexical(self, words: list[str], depth: int, allowed: set[int] | None) -> _Ranked:
        terms = self._selective(_query_terms(words))
        if not terms:
            return _Ranked([], [])
        match = " OR ".join(f'"{term}"' for term in terms)
        rows = self.index.db.execute(
            f"SELECT rowid, bm25(refs_fts, {BM25_COLUMN_WEIGHTS}) AS s FROM refs_fts WHERE refs_fts MATCH ?"
            " ORDER BY s LIMIT ?",
            (match, depth if allowed is None else depth * 20),
        ).fetchall()
        rows = [row for row in rows if allowed is None or row[0] in allowed][:depth]
        best = rows[0][1] if rows and rows[0][1] < 0 else -1.0
        return _Ranked([row[0] for row in rows], [row[1] / best for row in rows])

    def _selective(self, terms: list[str]) -> list[str]:
        """The rarest query terms that together occur in at most LEXICAL_POSTINGS_BUDGET papers.

        Without an embedder at least the rarest term is kept, so lexical search never comes back empty.
        """
        if self.index.revision() != self._counts_revision:
            self._paper_counts = {"": self.index.count()}
            self._counts_revision = self.index.revision()
        if self._paper_counts[""] <= LEXICAL_POSTINGS_BUDGET:
            return terms
        kept, postings = [], 0
        for term in sorted(terms, key=self._papers_with):
            postings += self._papers_with(term)
            if postings > LEXICAL_POSTINGS_BUDGET and (kept or self.embedder is not None):
                break
            kept.append(term)
        return kept

    def _papers_with(self, term: str) -> int:
        if term not in self._paper_counts:
            row = self.index.db.execute("SELECT count(*) FROM refs_fts WHERE refs_fts MATCH ?", (f'"{term}"',))
            self._paper_counts[term] = row.fetchone()[0]
        return self._paper_counts[term]

    def _dense(self, text: str, depth: int, allowed: set[int] | None) -> _Ranked:
        """Cosine similarity to every stored vector: one float16 matrix-vector product in torch.

        Half precision halves both the memory and the time of this memory-bound product;
        torch is already loaded with the model, and unlike numpy it has a fast kernel for it.
        """
        import torch

        if not len(self._row_ids):
            return _Ranked([], [])
        query = torch.from_numpy(self.embedder.encode([text])[0]).to(torch.float16)
        scores = (self._matrix @ query).float()
        if allowed is not None:
            keep = torch.from_numpy(np.isin(self._row_ids, list(allowed)))
            scores = torch.where(keep, scores, torch.tensor(float("-inf")))
        best = torch.topk(scores, min(depth, len(scores)))
        found = torch.isfinite(best.values)
        positions = best.indices[found].numpy()
        return _Ranked(self._row_ids[positions].tolist(), best.values[found].tolist())

    def _fuzzy(self, text: str, depth: int, allowed: set[int] | None) -> _Ranked:
        words = _WORD.findall(text.lower())
        years = {word for word in words if _YEAR.match(word)}
        names = [word for word in words if word not in years]
        candidates = self._key_prefix_ids(text.strip()) | self._word_prefix_ids(names, years)
        if len(candidates) < depth:
            candidates |= self._similar_author_ids(names)
        if allowed is not None:
            candidates &= allowed
        labels = self._labels(candidates)
        query = text.lower().strip()
        similarity = process.cdist([query], [label for _, label, _ in labels.values()], scorer=fuzz.WRatio)
        scored = []
        for (row_id, (key, _, year)), score in zip(labels.items(), similarity[0] / 100 if labels else []):
            score = 1.0 if key.lower().startswith(query) else float(score)
            if years and year not in years:
                score *= 0.5
            scored.append((score, row_id))
        scored.sort(reverse=True)
        scored = scored[:depth]
        return _Ranked([row_id for _, row_id in scored], [score for score, _ in scored])

    def _key_prefix_ids(self, typed: str) -> set[int]:
        if not typed or " " in typed:
            return set()
        pattern = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.index.db.execute("SELECT id FROM refs WHERE key LIKE ? ESCAPE '\\' LIMIT 200", (pattern,))
        return {row[0] for row in rows}

    def _word_prefix_ids(self, names: list[str], years: set[str]) -> set[int]:
        """Papers holding every typed word in title, authors or key; the last word may be unfinished."""
        words = [word for word in names if len(word) > 1 and word not in STOPWORDS]
        if words:
            clauses = [f'"{word}"' for word in words[:-1]]
            last = words[-1]
            clauses.append(f'("{last}" OR "{last}"*)' if len(last) >= MIN_PREFIX_LENGTH else f'"{last}"')
            match = " AND ".join(clauses)
            rows = self.index.db.execute(
                "SELECT rowid FROM refs_fts WHERE refs_fts MATCH ? LIMIT 200",
                (f"{{title authors key}} : ({match})",),
            )
            return {row[0] for row in rows}
        if years:
            marks = ",".join("?" * len(years))
            return {row[0] for row in self.index.db.execute(f"SELECT id FROM refs WHERE year IN ({marks}) LIMIT 200",
                                                            sorted(years))}
        return set()

    def _similar_author_ids(self, names: list[str]) -> set[int]:
        """First authors whose family name is close to a typed word (typos included)."""
        revision = self.index.revision()
        if revision != self._families_revision:
            rows = self.index.db.execute("SELECT DISTINCT first_author FROM refs WHERE first_author != ''")
            self._families = [row[0] for row in rows]
            self._families_revision = revision
        similar = set()
        for word in names:
            if len(word) >= 4:
                matches = process.extract(word, self._families, scorer=fuzz.ratio, limit=5,
                                          score_cutoff=FAMILY_MATCH_CUTOFF)
                similar.update(match[0] for match in matches)
        if not similar:
            return set()
        marks = ",".join("?" * len(similar))
        rows = self.index.db.execute(f"SELECT id FROM refs WHERE first_author IN ({marks}) LIMIT 200", sorted(similar))
        return {row[0] for row in rows}

    def _labels(self, row_ids: set[int]) -> dict[int, tuple[str, str, str]]:
        """Row id -> (key, "key authors year title" lowercased, year) for fuzzy scoring."""
        labels = {}
        ids = list(row_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.index.db.execute(
                f"SELECT r.id, r.key, r.year, f.authors, f.title FROM refs r JOIN refs_fts f ON f.rowid = r.id"
                f" WHERE r.id IN ({marks})",
                chunk,
            )
            for row_id, key, year, authors, title in rows:
                labels[row_id] = (key, f"{key} {authors} {year} {title}".lower(), year)
        return labels

    # Fusion and filters

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
            SearchHit(found[row_id][0], round(fused[row_id] / best_possible, 4), **_rounded(parts[row_id]))
            for row_id in top
            if row_id in found
        ]

    def _allowed_ids(self, year_from: int | None, year_to: int | None, source: str | None) -> set[int] | None:
        if year_from is None and year_to is None and not source:
            return None
        clauses, values = [], []
        if year_from is not None:
            clauses.append("CAST(substr(year, 1, 4) AS INTEGER) >= ?")
            values.append(year_from)
        if year_to is not None:
            clauses.append("year != '' AND CAST(substr(year, 1, 4) AS INTEGER) <= ?")
            values.append(year_to)
        if source:
            clauses.append("instr(lower(sources), lower(?)) > 0")
            values.append(source)
        rows = self.index.db.execute(f"SELECT id FROM refs WHERE {' AND '.join(clauses)}", values)
        return {row[0] for row in rows}

    def _load_vectors(self) -> None:
        revision = self.index.revision()
        if revision != self._loaded_revision:
            import torch

            self._row_ids, matrix = self.index.load_embeddings(self.embedder.dimension)
            self._matrix = torch.from_numpy(matrix)
            self._loaded_revision = revision


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
