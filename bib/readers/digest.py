"""Reader for Hugging Face "Daily Papers" digests saved as text.

The format is paragraphs separated by blank lines: a paper is a short title paragraph
followed by a long abstract paragraph. Page chrome ("Subscribe", "byAK and the research
community", dates such as "Mar 14", counters) is short text not followed by an abstract,
and is skipped. A second long paragraph continues the abstract before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citewise.bib.errors import SourceError
from citewise.bib.model import Origin, Reference

TITLE_MAX_CHARS = 300
ABSTRACT_MIN_WORDS = 25
MIN_PAPERS_WITHOUT_CHROME = 3

_CHROME = re.compile(
    r"""^(
        new | subscribe | daily\ papers | upvotes? | submitted\ by\b.* | by\s*ak\b.*
      | get\ trending\ papers\b.* | \d+ | [·•].*
      | (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\ \d{1,2}(,?\ \d{4})?
      | \d{4}-\d{2}-\d{2}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_DIGEST_PAGE = re.compile(
    r"^(get trending papers in your email inbox!?|by\s*ak and the research community)$", re.IGNORECASE | re.MULTILINE
)
_DRAFT_MARKUP = re.compile(r"^(\\documentclass|\\begin\{|\\section|#{1,6} |---$|```)", re.MULTILINE)


@dataclass
class _Paragraph:
    line: int
    text: str
    line_count: int = 1

    @property
    def words(self) -> int:
        return len(self.text.split())

    def is_abstract(self) -> bool:
        return self.words >= ABSTRACT_MIN_WORDS

    def is_title(self) -> bool:
        return not self.is_abstract() and len(self.text) <= TITLE_MAX_CHARS and not _CHROME.match(self.text)

    def is_one_line_title(self) -> bool:
        """A title as digests write it: one line, no closing period or colon."""
        return self.is_title() and self.line_count == 1 and not self.text.endswith((".", ":"))


def _paragraphs(text: str) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n") + [""], start=1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line.strip())
        elif lines:
            paragraphs.append(_Paragraph(start, " ".join(lines), len(lines)))
            lines = []
    return paragraphs


@dataclass
class _Paper:
    title: _Paragraph
    abstract: list[_Paragraph]


def _papers(paragraphs: list[_Paragraph]) -> tuple[list[_Paper], list[_Paragraph]]:
    """Papers (a title, then one or more abstract paragraphs) and abstracts that follow no title."""
    papers: list[_Paper] = []
    orphans: list[_Paragraph] = []
    previous: _Paragraph | None = None
    for paragraph in paragraphs:
        if paragraph.is_abstract():
            if papers and papers[-1].abstract[-1] is previous:
                papers[-1].abstract.append(paragraph)
            elif previous is not None and previous.is_title():
                papers.append(_Paper(previous, [paragraph]))
            else:
                orphans.append(paragraph)
        previous = paragraph
    return papers, orphans


def looks_like_digest(text: str) -> bool:
    """True for digest page text, or text made almost wholly of one-line titles with abstracts.

    Licences, YAML and notes also alternate short and long paragraphs, so without the page's
    own chrome it takes three or more papers covering 80% of the paragraphs.
    """
    if _DRAFT_MARKUP.search(text):
        return False
    paragraphs = [p for p in _paragraphs(text) if not _CHROME.match(p.text)]
    papers = [paper for paper in _papers(paragraphs)[0] if paper.title.is_one_line_title()]
    if _DIGEST_PAGE.search(text):
        return bool(papers)
    covered = sum(1 + len(paper.abstract) for paper in papers)
    return len(papers) >= MIN_PAPERS_WITHOUT_CHROME and covered >= 0.8 * len(paragraphs)


def read_digest(path: str, text: str) -> tuple[list[Reference], list[SourceError]]:
    """Papers (title + abstract) of a digest; an abstract with no title line is an error."""
    papers, orphans = _papers(_paragraphs(text))
    references = [
        Reference(
            entry_type="misc",
            title=paper.title.text,
            abstract=" ".join(paragraph.text for paragraph in paper.abstract),
            origin=Origin(path, paper.title.line),
        )
        for paper in papers
    ]
    errors = [SourceError(path, orphan.line, "abstract paragraph without a title line before it") for orphan in orphans]
    return references, errors
