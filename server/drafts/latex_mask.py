r"""LaTeX text with what TeX does not read as markup blanked out: `%` comments, verbatim
environments, `\verb|..|`, `\lstinline`/`\mintinline` and `\iffalse` blocks.

Blanking keeps the length and the line breaks, so every position found in the masked text
is true in the original. A URL's `%` and `#` (`\url`, `\href`, `\path`) are characters, not
a comment.
"""

from __future__ import annotations

import re

from citewise.server.drafts.textutil import blank

_VERBATIM_ENVIRONMENTS = ("verbatim", "Verbatim", "BVerbatim", "LVerbatim", "lstlisting", "minted", "comment")
_SPECIAL = re.compile(
    r"\\(?:url|href|path)\s*\{[^{}\n]*\}"  # a URL's `%` and `#` are characters, not a comment
    r"|\\\\|\\%|%|\\verb\*?|\\(?:lstinline|mintinline)\b"
    r"|\\begin\s*\{(" + "|".join(_VERBATIM_ENVIRONMENTS) + r")(\*?)\}"
    r"|\\iffalse(?![A-Za-z@])"
)
# Inside `\iffalse` TeX still pairs nested conditionals with their `\fi` and still skips
# comments. `\iff` is the math symbol, not a conditional.
_CONDITIONAL_TOKEN = re.compile(r"\\\\|\\%|%|\\(iff(?![A-Za-z@])|if[A-Za-z@]*|else|fi)(?![A-Za-z@])")
_INLINE_OPTIONS = re.compile(r"\[(?:[^\[\]{}]|\{[^{}]*\})*+\]")
_INLINE_LANGUAGE = re.compile(r"\{[^{}]*\}")


def mask_comments_and_verbatim(text: str) -> str:
    r"""The text with `%` comments, verbatim environments, `\verb|..|` and `\iffalse` blocks replaced by spaces."""
    pieces: list[str] = []
    kept_from = 0
    pos = 0
    while (match := _SPECIAL.search(text, pos)) is not None:
        start, end = _masked_span(text, match)
        if end > start:
            pieces.append(text[kept_from:start])
            pieces.append(blank(text[start:end]))
            kept_from = end
        pos = max(end, match.end())
    pieces.append(text[kept_from:])
    return "".join(pieces)


def _masked_span(text: str, match: re.Match) -> tuple[int, int]:
    token = match.group(0)
    if token in ("\\\\", "\\%") or token.startswith(("\\url", "\\href", "\\path")):
        return match.end(), match.end()
    if token == "%":
        return match.start(), _end_of_line(text, match.start())
    if token.startswith("\\if"):
        return match.start(), _end_of_false_branch(text, match.end())
    if match.group(1):
        end_marker = "\\end{" + match.group(1) + match.group(2) + "}"
        end = text.find(end_marker, match.end())
        return match.end(), len(text) if end < 0 else end
    pos = match.end()
    if token.startswith("\\mintinline") or token.startswith("\\lstinline"):
        optional = _INLINE_OPTIONS.match(text, pos)
        pos = optional.end() if optional else pos
        if token.startswith("\\mintinline"):
            language = _INLINE_LANGUAGE.match(text, pos)
            pos = language.end() if language else pos
    if pos >= len(text):
        return pos, pos
    delimiter = "}" if text[pos] == "{" else text[pos]
    if delimiter.isspace():
        return pos, pos
    close = text.find(delimiter, pos + 1)
    if close < 0 or text.find("\n", pos, close) >= 0:
        return pos, _end_of_line(text, pos)
    return pos, close + 1


def _end_of_false_branch(text: str, pos: int) -> int:
    r"""Where the text skipped by an `\iffalse` that ends before `pos` stops: at its own
    `\else` (what follows is typeset) or just after its `\fi`; the end of the text if neither comes."""
    depth = 0
    while (token := _CONDITIONAL_TOKEN.search(text, pos)) is not None:
        name = token.group(1)
        pos = _end_of_line(text, token.start()) if token.group(0) == "%" else token.end()
        if name is None or name == "iff":
            continue
        if name == "fi":
            if depth == 0:
                return token.end()
            depth -= 1
        elif name == "else":
            if depth == 0:
                return token.start()
        else:
            depth += 1
    return len(text)


def _end_of_line(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end
