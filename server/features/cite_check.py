"""Cite-check: does each cited paper fit the sentence that cites it?

For every citation site (one key in one citation), the citing sentence and its paragraph,
markup stripped, are embedded with the suggestion model (`citewise.bib.index.embed`), and so is
every candidate paper (title, then abstract, as the index embeds them). A site's score is the
cosine of its context with the cited paper (the mean over sentence and paragraph).

Judged is the relative fit (`relative_fit`): the score less the paper's mean over the draft's
sites (a paper with a vague title fits every sentence a little) and less the site's median over
the candidates (a vague sentence fits no paper well). A site is flagged `weak-fit` only when both hold:
- its relative fit is far below the draft's other citations: under the median by more than
  `SPREAD` robust deviations (median absolute deviation, floored at `MIN_DEVIATION`);
- a much better paper exists among the candidates (the draft's bibliography, plus any the
  caller adds): its relative fit beats the cited one's by `MARGIN`, its score beats the cited
  one's too, and it is the best candidate.
The proposal is that paper. Findings show the plain scores. Drafts with fewer than `MIN_SITES` sites are not judged: their
citations give no distribution to compare against.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from citewise.bib.bibtex.reader import entry_to_reference, read_bib_file
from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference
from citewise.bib.text import strip_markup
from citewise.server.drafts.model import Draft
from citewise.server.drafts.project import read_source
from citewise.server.features.verify import Finding

SPREAD = 2.5
MIN_DEVIATION = 0.05
MARGIN = 0.15
MIN_SITES = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\])")


@dataclass
class Site:
    file: str
    line: int
    key: str
    sentence: str
    paragraph: str


@dataclass
class Fit:
    site: Site
    score: float
    flagged: bool = False
    better_key: str = ""
    better_score: float = 0.0

    def detail(self, median: float) -> str:
        return (f"fits its sentence far less than the draft's other citations fit theirs ({self.score:.2f}; their "
                f"median {median:.2f}); {self.better_key} fits better ({self.better_score:.2f})")


def citation_sites(draft: Draft, read: Callable[[str], str] = read_source) -> list[Site]:
    """Every (citation, key) of the draft with its sentence and paragraph as plain words
    (`read(path)` gives a file's text: the editor passes the text it holds)."""
    texts: dict[str, list[str]] = {}
    sites = []
    for citation in draft.citations:
        lines = texts.get(citation.file)
        if lines is None:
            lines = texts[citation.file] = read(citation.file).split("\n")
        paragraph, offset = _paragraph(lines, citation.line, citation.col)
        sentence = _sentence(paragraph, offset)
        for use in citation.keys:
            sites.append(Site(citation.file, citation.line, use.key, strip_markup(sentence), strip_markup(paragraph)))
    return sites


def _paragraph(lines: list[str], line: int, col: int) -> tuple[str, int]:
    """The blank-line-delimited paragraph around (line, col), and the offset of col in it."""
    start = line
    while start > 0 and lines[start - 1].strip():
        start -= 1
    end = line
    while end + 1 < len(lines) and lines[end + 1].strip():
        end += 1
    offset = sum(len(text) + 1 for text in lines[start:line]) + col
    return "\n".join(lines[start : end + 1]), offset


def _sentence(paragraph: str, offset: int) -> str:
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        if match.start() >= offset:
            return paragraph[start : match.start()]
        start = match.end()
    return paragraph[start:]


@dataclass
class Scores:
    """Fit of every site's context (rows) with every candidate paper (columns)."""

    sites: list[Site]
    keys: list[str]
    matrix: np.ndarray


def score_sites(sites: list[Site], cited: dict[str, Reference], candidates: list[Reference], embedder,
                vectors: dict[tuple[str, str], np.ndarray] | None = None) -> Scores:
    """Embed the sites' contexts and the candidates (the cited papers among them) once; `vectors`
    keeps embeddings by text between calls (the editor judges a draft again after each edit)."""
    from citewise.bib.index.embedding_rows import embedding_text

    sites = [site for site in sites if site.key in cited and cited[site.key].title]
    pool = {ref.key: ref for ref in candidates if ref.title}
    pool.update({key: ref for key, ref in cited.items() if ref.title})
    keys = list(pool)
    if not sites or not keys:
        return Scores(sites, keys, np.zeros((len(sites), len(keys))))
    vectors = {} if vectors is None else vectors
    papers = _embedded(vectors, "paper", [embedding_text(pool[key]) for key in keys], embedder.encode_documents)
    sentences = _embedded(vectors, "context", [site.sentence or site.paragraph for site in sites], embedder.encode)
    paragraphs = _embedded(vectors, "context", [site.paragraph for site in sites], embedder.encode)
    return Scores(sites, keys, (sentences @ papers.T + paragraphs @ papers.T) / 2)


def _embedded(vectors: dict[tuple[str, str], np.ndarray], kind: str, texts: list[str], encode) -> np.ndarray:
    missing = list(dict.fromkeys(text for text in texts if (kind, text) not in vectors))
    if missing:
        vectors.update(zip(((kind, text) for text in missing), encode(missing)))
    return np.stack([vectors[(kind, text)] for text in texts])


def relative_fit(matrix: np.ndarray) -> np.ndarray:
    """Each score less its paper's mean over the sites (columns), then less its site's median over
    the candidates (rows): how much better than usual this paper fits this sentence."""
    relative = matrix - matrix.mean(axis=0, keepdims=True)
    return relative - np.median(relative, axis=1, keepdims=True)


def judge(scores: Scores, cited_keys: list[str] | None = None) -> tuple[list[Fit], float]:
    """A Fit per site (flagged or not) and the median of the draft's scores; `cited_keys` overrides
    the key each site cites (the benchmark swaps them without embedding anything again)."""
    keys = cited_keys or [site.key for site in scores.sites]
    if len(keys) < MIN_SITES:
        return [], 0.0
    column = {key: i for i, key in enumerate(scores.keys)}
    relative = relative_fit(scores.matrix)
    fits = [Fit(replace(site, key=key), float(scores.matrix[row, column[key]])) for row, (site, key) in enumerate(zip(scores.sites, keys))]
    own = [float(relative[row, column[key]]) for row, key in enumerate(keys)]
    median = statistics.median(own)
    deviation = max(MIN_DEVIATION, statistics.median(abs(fit - median) for fit in own))
    for row, fit in enumerate(fits):
        best = int(np.argmax(relative[row]))
        fit.better_key, fit.better_score = scores.keys[best], float(scores.matrix[row, best])
        fit.flagged = (own[row] < median - SPREAD * deviation and fit.better_key != fit.site.key
                       and relative[row, best] >= own[row] + MARGIN and fit.better_score > fit.score)
    return fits, statistics.median(fit.score for fit in fits)


def fit_findings(paths, embedder, errors: list[str]) -> list[Finding]:
    """`weak-fit` findings for the drafts among `paths`, against each draft's own bibliography."""
    from citewise.server.drafts.project import language_of, load_draft

    findings = []
    for path in paths:
        if language_of(path) is None:
            continue
        try:
            draft = load_draft(path)
        except CitewiseError as error:
            errors.append(str(error))
            continue
        references = {}
        for bib in draft.bib_files:
            try:
                entries = read_bib_file(bib).entries
            except CitewiseError as error:
                errors.append(str(error))
                continue
            for entry in entries:
                references.setdefault(entry.key, entry_to_reference(entry, bib))
        fits, median = judge(score_sites(citation_sites(draft), references, list(references.values()), embedder))
        for fit in fits:
            if fit.flagged:
                fix = {"title": f"Cite {fit.better_key} instead", "replace": fit.site.key, "with": fit.better_key}
                findings.append(Finding(fit.site.file, fit.site.line + 1, fit.site.key, "weak-fit", fit.detail(median), fix))
    return findings
