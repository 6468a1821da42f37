"""What a draft says around the cursor beyond the sentence: paragraph, headings, captions, title and abstract.

Suggestions weigh these after the sentence itself (server/features/ranking.py). Everything
is plain words (markup and citations stripped) and bounded in size, so a long draft costs
what a short one does: the paragraph is cut to `PARAGRAPH_CHARS` around the cursor, the
headings are looked for in the `HEADING_CHARS` before it, title and abstract in the first
`HEAD_CHARS` of the draft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citewise.bib.text import strip_markup
from citewise.server.drafts.markdown import front_matter, front_matter_end

PARAGRAPH_CHARS = 1_200
HEAD_CHARS = 20_000
CAPTION_WINDOW = 1_500
HEADING_CHARS = 200_000
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_STRUCTURE_LINE = re.compile(  # a line that bounds a paragraph: blank, a heading, an environment boundary
    r"[ \t]*(?:$|\\(?:(?:sub)*section|chapter|paragraph|begin|end|documentclass|maketitle|bibliography)\b|#{1,6}\s|---[ \t]*$)",
    re.M)
_LATEX_HEADING = re.compile(r"\\(chapter|section|subsection|subsubsection)\*?\s*(?:\[[^\]]*\])?\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_MARKDOWN_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*(?:\{[^}]*\})?\s*$", re.M)
_LATEX_TITLE = re.compile(r"\\title\s*(?:\[[^\]]*\])?\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_LATEX_ABSTRACT = re.compile(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", re.S)
_LATEX_CAPTION = re.compile(r"\\caption\s*(?:\[[^\]]*\])?\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_MARKDOWN_CAPTION = re.compile(r"!\[([^\]]{10,})\]\(")
_LATEX_LEVELS = {"chapter": 0, "section": 1, "subsection": 2, "subsubsection": 3}


@dataclass(frozen=True)
class Surroundings:
    paragraph: str
    headings: tuple[str, ...]  # outermost first
    captions: str
    title: str
    abstract: str

    @property
    def section(self) -> str:
        """The headings above the cursor and the captions near it, as one text."""
        return " ".join([*self.headings, self.captions]).strip()

    @property
    def document(self) -> str:
        return f"{self.title}. {self.abstract}".strip(" .")


def surroundings(text: str, offset: int, language: str | None, head: str | None = None) -> Surroundings:
    """The surroundings of `offset` in `text`; title and abstract come from `head` (the draft's
    root file) when given, else from `text` itself."""
    head = (text if head is None else head)[:HEAD_CHARS]
    title, abstract = (_latex_head(head) if language == "latex" else _markdown_head(head))
    return Surroundings(paragraph_around(text, offset), _headings(text, offset, language),
                        _captions(text, offset, language), title, abstract)


def paragraph_around(text: str, offset: int) -> str:
    """The words of the paragraph holding `offset`: the lines around it up to a blank line, a
    heading or an environment boundary, at most PARAGRAPH_CHARS of text."""
    start = text.rfind("\n", 0, offset) + 1
    while start > 0 and offset - start < PARAGRAPH_CHARS:
        previous = text.rfind("\n", 0, start - 1) + 1
        if _STRUCTURE_LINE.match(text, previous):
            break
        start = previous
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    while end < len(text) and end - offset < PARAGRAPH_CHARS // 2:
        following = text.find("\n", end + 1)
        following = len(text) if following < 0 else following
        if _STRUCTURE_LINE.match(text, end + 1):
            break
        end = following
    return _words(text[start:end])


def paragraphs(text: str, language: str | None) -> list[tuple[int, int]]:
    """(start, end) offsets of the prose paragraphs of a draft: LaTeX preamble, floats, math and
    verbatim material, Markdown front matter and code blocks left out."""
    masked = _mask(text, language)
    spans, start = [], 0
    for match in _BLANK_LINE.finditer(masked + "\n\n"):
        chunk = masked[start:match.start()]
        if chunk.strip():
            spans.append((start + len(chunk) - len(chunk.lstrip()), start + len(chunk.rstrip())))
        start = match.end()
    return spans


_SKIPPED_LATEX = re.compile(
    r"\\begin\{(figure|table|equation|align|gather|tabular|verbatim|lstlisting|minted|thebibliography)\*?\}"
    r"(?:(?!\\begin\{\1\*?\}).)*?\\end\{\1\*?\}",  # stops at the next same \begin: linear time
    re.S)
_MARKDOWN_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_NOT_NEWLINE = re.compile(r"[^\n]")
_BEGIN_DOCUMENT = "\\begin{document}"


def _mask(text: str, language: str | None) -> str:
    """`text` with what is not prose replaced by spaces (newlines kept, so offsets hold)."""
    def blank(match: re.Match) -> str:
        return _NOT_NEWLINE.sub(" ", match.group(0))

    if language == "latex":
        body = text.find(_BEGIN_DOCUMENT)
        if body >= 0:
            cut = body + len(_BEGIN_DOCUMENT)
            text = _NOT_NEWLINE.sub(" ", text[:cut]) + text[cut:]
        return _SKIPPED_LATEX.sub(blank, text)
    body = front_matter_end(text)
    text = _NOT_NEWLINE.sub(" ", text[:body]) + text[body:]
    return _MARKDOWN_FENCE.sub(blank, text)


def _headings(text: str, offset: int, language: str | None) -> tuple[str, ...]:
    """The innermost heading of each level above `offset`, outermost first."""
    found: dict[int, tuple[int, str]] = {}
    low = max(0, offset - HEADING_CHARS)
    if language == "latex":
        matches = ((_LATEX_LEVELS[m.group(1)], m.start(), m.group(2)) for m in _LATEX_HEADING.finditer(text, low, offset))
    else:
        matches = ((len(m.group(1)), m.start(), m.group(2)) for m in _MARKDOWN_HEADING.finditer(text, low, offset))
    for level, start, heading in matches:
        found = {kept: value for kept, value in found.items() if kept < level}
        found[level] = (start, heading)
    return tuple(_words(heading) for _, (_, heading) in sorted(found.items()) if _words(heading))


def _captions(text: str, offset: int, language: str | None) -> str:
    low, high = max(0, offset - CAPTION_WINDOW), min(len(text), offset + CAPTION_WINDOW)
    pattern = _LATEX_CAPTION if language == "latex" else _MARKDOWN_CAPTION
    return " ".join(_words(m.group(1)) for m in pattern.finditer(text, low, high))


def _latex_head(text: str) -> tuple[str, str]:
    title = _LATEX_TITLE.search(text)
    abstract = _LATEX_ABSTRACT.search(text)
    return (_words(title.group(1)) if title else "", _words(abstract.group(1))[:PARAGRAPH_CHARS] if abstract else "")


def _markdown_head(text: str) -> tuple[str, str]:
    data, body = front_matter(text)
    if not body:
        heading = _MARKDOWN_HEADING.search(text)
        return (_words(heading.group(2)) if heading and len(heading.group(1)) == 1 else "", "")
    return _words(str(data.get("title") or "")), _words(str(data.get("abstract") or ""))[:PARAGRAPH_CHARS]


def _words(text: str) -> str:
    return " ".join(strip_markup(text).split())
