r"""Find citations in Pandoc, R Markdown, Quarto and MyST Markdown.

Syntax follows Pandoc: `[see @a, p. 4; -@b]` (bracketed, `-` suppresses the
author), `@a [p. 4]` (in-text), `@{odd key}`; a key starts with a letter, digit
or `_` and may hold `:.#$%&-+?<>~/` when a letter or digit follows, so
trailing punctuation ends it. MyST roles: {cite}`a,b`, {cite:p}`a`, {cite:t}`a`.

Which `@` words count. Pandoc makes any `@word` in running text a citation,
whether or not the key exists, and so does this module: an in-text `@name`
is reported, and the resolver (bib generation, diagnostics) flags keys that no
bibliography holds. Not citations, as in Pandoc: an escaped `\@name` (how
authors write social handles such as `\@allison_horst`), an `@` after a letter
or digit (e-mail addresses), anything in front matter, fenced or indented code,
inline code, HTML comments, link targets and URLs; and, as in Quarto, cross
references whose key starts with a cross-reference prefix (`@fig-…`, `@sec-…`,
`@tbl-…`, `@eq-…`, `@lst-…`, `@thm-…` and the other theorem kinds).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from citewise.server.drafts.model import Citation, KeyUse
from citewise.server.drafts.textutil import DraftLineIndex, blank_spans
from citewise.server.drafts.yaml_metadata import parse_yaml, string_list

KEY_PATTERN = r"\w(?:\w|[:.#$%&\-+?<>~/](?=\w)|[:/](?=/))*"
CROSS_REFERENCE = re.compile(
    r"(?:fig|tbl|lst|eq|sec|thm|lem|cor|prp|cnj|def|exm|exr|sol|rem|alg|tip|nte|wrn|imp|cau)-"
)
_CITE_KEY = re.compile(r"(?<![\w\\@/.:=&`])(-?)@(?:\{([^{}\n]*)\}|(" + KEY_PATTERN + "))")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_LOCATOR = re.compile(r"[ \t]?\[[^\[\]@\n]*\]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_BACKTICKS = re.compile(r"`+")
_MYST_ROLE = re.compile(r"\{(cite(?::[a-z]+)?)\}\Z")
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
LIST_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_LINK_TARGET = re.compile(r"\]\(([^()\s]*)")
_URL = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s<>]*|<[^\s<>@]+@[^\s<>]+>")
_INCLUDE_SHORTCODE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")


@dataclass
class MarkdownScan:
    """Everything found in one Markdown text."""

    citations: list[Citation] = field(default_factory=list)
    includes: list[tuple[str, int]] = field(default_factory=list)
    bibliographies: list[str] = field(default_factory=list)


def find_markdown_citations(text: str, file: str = "") -> list[Citation]:
    """Every Pandoc and MyST citation in a Markdown text, in order."""
    return scan_markdown(text, file).citations


def markdown_bibliographies(text: str) -> list[str]:
    """Files named by `bibliography:` in the front matter (a string or a list)."""
    metadata, _ = front_matter(text)
    return string_list(metadata.get("bibliography"))


def markdown_includes(text: str) -> list[tuple[str, int]]:
    """Quarto `{{< include file >}}` shortcodes outside code: (path, 0-based line)."""
    return scan_markdown(text).includes


def scan_markdown(text: str, file: str = "") -> MarkdownScan:
    """Citations, Quarto includes and front-matter bibliographies of one Markdown text."""
    metadata, body_start = front_matter(text)
    masked, myst_citations = _mask(text, file, body_start)
    positions = DraftLineIndex(masked)
    bracketed = _bracketed_citations(masked, file, positions)
    taken = [(citation_start, citation_end) for citation_start, citation_end, _ in bracketed]
    in_text = _in_text_citations(masked, file, positions, taken)
    ordered = [(start, citation) for start, _, citation in bracketed] + in_text
    ordered += [(positions.offset(citation.line, citation.col), citation) for citation in myst_citations]
    includes = [(match.group(1), positions.at(match.start())[0]) for match in _INCLUDE_SHORTCODE.finditer(masked)]
    return MarkdownScan(
        citations=[citation for _, citation in sorted(ordered, key=lambda pair: pair[0])],
        includes=includes,
        bibliographies=string_list(metadata.get("bibliography")),
    )


def front_matter(text: str) -> tuple[dict[str, Any], int]:
    """The YAML front matter's mapping and the offset where the body starts (0 without one)."""
    bounds = _front_matter_bounds(text)
    if bounds is None:
        return {}, 0
    yaml_start, yaml_end, body_start = bounds
    return parse_yaml(text[yaml_start:yaml_end]), body_start


def front_matter_end(text: str) -> int:
    """Where the body starts after the front matter (0 without one), without parsing its YAML."""
    bounds = _front_matter_bounds(text)
    return bounds[2] if bounds is not None else 0


_FRONT_MATTER_CLOSE = re.compile(r"\n(---|\.\.\.)[ \t]*(?:\r?\n|\Z)")


def _front_matter_bounds(text: str) -> tuple[int, int, int] | None:
    """Start and end offsets of the front matter's YAML, and of the body after it."""
    if not text.startswith("---"):
        return None
    first_break = text.find("\n")
    if first_break < 0 or text[:first_break].strip() != "---" or not text[first_break + 1 :].split("\n", 1)[0].strip():
        return None
    match = _FRONT_MATTER_CLOSE.search(text, first_break)
    if match is None:
        return None
    return first_break + 1, match.start(), match.end()


def _mask(text: str, file: str, body_start: int) -> tuple[str, list[Citation]]:
    """Text with everything that cannot hold a Pandoc citation blanked, plus the MyST citations found."""
    spans = [(0, body_start)] + _code_block_spans(text, body_start)
    masked = blank_spans(text, spans)
    masked = blank_spans(masked, _html_comment_spans(masked))
    code_spans, myst_citations = _inline_code(masked, file)
    masked = blank_spans(masked, code_spans)
    links = [match.span(1) for match in _LINK_TARGET.finditer(masked)]
    masked = blank_spans(masked, links)
    masked = blank_spans(masked, [match.span() for match in _URL.finditer(masked)])
    return masked, myst_citations


def _html_comment_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = text.find("<!--")
    while start >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        spans.append((start, end + 3))
        start = text.find("<!--", end + 3)
    return spans


def _code_block_spans(text: str, start: int) -> list[tuple[int, int]]:
    """Fenced code blocks and indented code blocks outside lists, as offset spans."""
    spans: list[tuple[int, int]] = []
    fence: tuple[str, int] | None = None
    fence_start = 0
    after_block = True
    in_list = False
    offset = start
    for line in text[start:].splitlines(keepends=True):
        content = line.rstrip("\r\n")
        line_start, offset = offset, offset + len(line)
        if fence is not None:
            if _closes_fence(content, fence):
                spans.append((fence_start, line_start + len(content)))
                fence = None
                after_block = True
            continue
        opening = _FENCE.fullmatch(content)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            fence = (opening.group(2)[0], len(opening.group(2)))
            fence_start = line_start
            continue
        if not content.strip():
            after_block = True
            continue
        indent = len(content.expandtabs(4)) - len(content.expandtabs(4).lstrip())
        if indent >= 4 and after_block and not in_list:
            spans.append((line_start, line_start + len(content)))
            continue
        if LIST_ITEM.match(content):
            in_list = True
        elif indent == 0 and after_block:
            in_list = False
        after_block = False
    if fence is not None:
        spans.append((fence_start, len(text)))
    return spans


def _closes_fence(content: str, fence: tuple[str, int]) -> bool:
    closing = _FENCE.fullmatch(content.rstrip())
    return bool(closing) and closing.group(2)[0] == fence[0] and len(closing.group(2)) >= fence[1] and not closing.group(3).strip()


def _inline_code(text: str, file: str) -> tuple[list[tuple[int, int]], list[Citation]]:
    """Spans of inline code (a run of n backticks to the next run of n in the same paragraph) and MyST roles."""
    runs = [(match.start(), match.end()) for match in _BACKTICKS.finditer(text)]
    next_same = [-1] * len(runs)
    last_seen: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        next_same[index] = last_seen.get(length, -1)
        last_seen[length] = index
    breaks = [match.start() for match in _PARAGRAPH_BREAK.finditer(text)]
    positions: DraftLineIndex | None = None
    spans: list[tuple[int, int]] = []
    citations: list[Citation] = []
    index = 0
    while index < len(runs):
        closer = next_same[index]
        open_start, open_end = runs[index]
        if closer < 0 or bisect.bisect_left(breaks, open_end) != bisect.bisect_left(breaks, runs[closer][0]):
            index += 1
            continue
        role = _MYST_ROLE.search(text, max(0, open_start - 20), open_start)
        if role:
            positions = positions or DraftLineIndex(text)
            citation = _myst_citation(text, file, positions, role, open_end, runs[closer])
            if citation is not None:
                citations.append(citation)
        spans.append((open_start, runs[closer][1]))
        index = closer + 1
    return spans, citations


def _myst_citation(text, file, positions: DraftLineIndex, role: re.Match, content_start: int, closer: tuple[int, int]) -> Citation | None:
    uses = []
    offset = content_start
    for piece in text[content_start : closer[0]].split(","):
        key = piece.strip()
        if key:
            line, col = positions.at(offset + piece.index(key))
            uses.append(KeyUse(key, line, col, col + len(key)))
        offset += len(piece) + 1
    if not uses:
        return None
    line, col = positions.at(role.start())
    end_line, end_col = positions.at(closer[1])
    return Citation(file, line, col, end_line, end_col, "{" + role.group(1) + "}", uses, "myst")


def _key_use(match: re.Match, line: int, line_start: int) -> KeyUse | None:
    """The key of a `-?@key` / `@{key}` match on the given line (keys never span lines)."""
    group = 2 if match.group(2) is not None else 3
    raw = match.group(group)
    key = raw.strip()
    if not key or CROSS_REFERENCE.match(key):
        return None
    col = match.start(group) + len(raw) - len(raw.lstrip()) - line_start
    return KeyUse(key, line, col, col + len(key))


def _key_use_anywhere(match: re.Match, positions: DraftLineIndex) -> KeyUse | None:
    line, col = positions.at(match.start())
    return _key_use(match, line, match.start() - col)


def _bracketed_citations(masked: str, file: str, positions: DraftLineIndex) -> list[tuple[int, int, Citation]]:
    found = []
    for bracket in _BRACKET.finditer(masked):
        content = bracket.group(1)
        if "@" not in content or _PARAGRAPH_BREAK.search(content) or masked[bracket.end() : bracket.end() + 1] == "(":
            continue
        item_start = bracket.start(1)
        matches = []
        for item in content.split(";"):
            key_match = _CITE_KEY.search(masked, item_start, item_start + len(item))
            item_start += len(item) + 1
            if key_match is None:
                matches = []
                break
            matches.append(key_match)
        uses = [use for use in (_key_use_anywhere(match, positions) for match in matches) if use]
        if not uses:
            continue
        command = "[-@" if all(match.group(1) for match in matches) else "[@"
        line, col = positions.at(bracket.start())
        end_line, end_col = positions.at(bracket.end())
        found.append((bracket.start(), bracket.end(), Citation(file, line, col, end_line, end_col, command, uses, "pandoc")))
    return found


def _in_text_citations(masked: str, file: str, positions: DraftLineIndex, taken: list[tuple[int, int]]) -> list[tuple[int, Citation]]:
    taken_starts = [start for start, _ in taken]
    found = []
    for match in _CITE_KEY.finditer(masked):
        slot = bisect.bisect_right(taken_starts, match.start()) - 1
        if slot >= 0 and taken[slot][1] > match.start():
            continue
        at = match.start() + len(match.group(1))
        line, col = positions.at(at)
        use = _key_use(match, line, at - col)
        if use is None:
            continue
        locator = _LOCATOR.match(masked, match.end())
        end = locator.end() if locator else match.end()
        found.append((at, Citation(file, line, col, line, col + end - at, "@", [use], "pandoc")))
    return found
