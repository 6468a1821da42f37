r"""Where the cursor sits inside a citation, for key completion while the author types.

`citation_at` looks only at a window of text before the cursor (and the rest
of the citation after it), so it costs the same on a short note and a thesis,
and it copes with a citation that is still open: `\cite{ab|` with no `}` yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from citewise.server.drafts.latex_macros import CITE_COMMANDS, MULTICITE_COMMANDS, CiteMacro
from citewise.server.drafts.latex_mask import mask_comments_and_verbatim
from citewise.server.drafts.markdown import CROSS_REFERENCE, LIST_ITEM, front_matter_end
from citewise.server.drafts.model import CitationContext, TextRange

WINDOW = 4000
_CHUNK = 1 << 16
_LATEX_OPEN = re.compile(
    r"\\(?P<name>[A-Za-z@]+)\*?(?P<args>(?:\s*(?:\[[^\[\]]*\]|\([^()]*\)|\{[^{}\\]*\}))*+)\s*\{(?P<inside>[^{}\\]*)\Z"
)
_BRACED = re.compile(r"\{([^{}\\]*)\}")
_LATEX_REST = re.compile(r"[^{}\\\n]*\}?")
_LATEX_KEY_TAIL = re.compile(r"[^,{}\\\s%]*")
_PANDOC_KEY_CHARS = r"[\w:.#$%&\-+?<>~/]"
_PANDOC_TYPED = re.compile(r"(?<![\w\\@/.:=&`])(-?)@(" + _PANDOC_KEY_CHARS + r"*)\Z")
_PANDOC_KEY = re.compile(r"(?<![\w\\@/.:=&`])-?@(\w" + _PANDOC_KEY_CHARS + r"*(?<=\w))")
_PANDOC_KEY_TAIL = re.compile(_PANDOC_KEY_CHARS + r"*(?<=\w)|")
_PANDOC_OPEN = re.compile(r"\[(?P<inside>[^\[\]]*)\Z")
_PANDOC_REST = re.compile(r"[^\[\]\n]*\]?")
_MYST_OPEN = re.compile(r"\{(?P<role>cite(?::[a-z]+)?)\}`(?P<inside>[^`\n]*)\Z")
_MYST_REST = re.compile(r"[^`\n]*")
_MYST_KEY_TAIL = re.compile(r"[^,`\s]*")
_INDENTED = re.compile(r" {4}|\t")
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$", re.M)


def citation_at(text: str, language: str | None, line: int, col: int, extra_cite_macros: Iterable[str | CiteMacro] = ()) -> CitationContext | None:
    """The citation the cursor (0-based line, col) is typing a key in, or None outside one."""
    offset, line, col = _clamped_position(text, line, col)
    if language == "latex":
        return _latex_context(text, offset, line, col, extra_cite_macros)
    if language == "markdown":
        return _markdown_context(text, offset, line, col)
    return None


def _clamped_position(text: str, line: int, col: int) -> tuple[int, int, int]:
    """(offset, line, col) of the cursor, kept inside the text; newlines are counted a chunk at a time."""
    start = 0
    found = 0
    while found < line:
        chunk_end = min(len(text), start + _CHUNK)
        in_chunk = text.count("\n", start, chunk_end)
        if found + in_chunk < line and chunk_end < len(text):
            found += in_chunk
            start = chunk_end
            continue
        for _ in range(min(line - found, in_chunk)):
            start = text.index("\n", start) + 1
            found += 1
        break
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    offset = min(start + max(col, 0), line_end)
    return offset, found, offset - start


def _latex_context(text, offset, line, col, extra_cite_macros) -> CitationContext | None:
    window = mask_comments_and_verbatim(text[max(0, offset - WINDOW) : offset])
    opened = _LATEX_OPEN.search(window)
    if opened is None:
        return None
    name = opened.group("name")
    args = opened.group("args")
    macro_names = {item.lstrip("\\") if isinstance(item, str) else item.name for item in extra_cite_macros}
    if name in CITE_COMMANDS and ("{" in args or "(" in args):
        return None
    if name not in CITE_COMMANDS and name not in MULTICITE_COMMANDS and name not in macro_names:
        return None
    earlier_keys = _comma_keys(",".join(_BRACED.findall(args))) if name in MULTICITE_COMMANDS else []
    rest = _LATEX_REST.match(text, offset).group(0).rstrip("}")
    tail = _LATEX_KEY_TAIL.match(text, offset).group(0)
    context = _context("latex", "\\" + name, opened.group("inside"), rest, line, col, tail, _comma_keys)
    context.keys_present[:0] = earlier_keys
    return context


def _markdown_context(text, offset, line, col) -> CitationContext | None:
    line_start = text.rfind("\n", 0, offset) + 1
    if _in_code_block(text, offset):
        return None
    before = text[max(line_start, offset - WINDOW) : offset]
    myst = _MYST_OPEN.search(before)
    if myst:
        rest = _MYST_REST.match(text, offset).group(0)
        tail = _MYST_KEY_TAIL.match(text, offset).group(0)
        return _context("myst", "{" + myst.group("role") + "}", myst.group("inside"), rest, line, col, tail, _comma_keys)
    if before.count("`") % 2:
        return None
    window = text[max(0, offset - WINDOW) : offset]
    bracket = _PANDOC_OPEN.search(window)
    if bracket and not re.search(r"\n[ \t]*\n", bracket.group("inside")):
        return _pandoc_bracket_context(text, offset, bracket.group("inside"), line, col)
    typed = _PANDOC_TYPED.search(before)
    if typed is None or CROSS_REFERENCE.match(typed.group(2)):
        return None
    tail = _PANDOC_KEY_TAIL.match(text, offset).group(0)
    start = col - len(typed.group(2))
    return CitationContext("pandoc", "@", typed.group(2), TextRange(line, start, line, col + len(tail)), [], "key")


def _pandoc_bracket_context(text, offset, inside, line, col) -> CitationContext | None:
    rest = _PANDOC_REST.match(text, offset).group(0).rstrip("]")
    typed = _PANDOC_TYPED.search(inside)
    if typed is not None:
        if CROSS_REFERENCE.match(typed.group(2)):
            return None
        prefix = typed.group(2)
        tail = _PANDOC_KEY_TAIL.match(text, offset).group(0)
        others = _PANDOC_KEY.findall(inside[: typed.start()] + " " + rest[len(tail) :])
        command = "[-@" if typed.group(1) else "[@"
        return CitationContext("pandoc", command, prefix, TextRange(line, col - len(prefix), line, col + len(tail)), others, "key")
    present = _PANDOC_KEY.findall(inside + " " + rest)
    if not present or not re.search(r"(?:^|;)\s*\Z", inside):
        return None
    return CitationContext("pandoc", "[@", "", TextRange(line, col, line, col), present, "at-key")


def _in_code_block(text: str, offset: int) -> bool:
    """Whether the cursor is in front matter, a fenced code block, or an indented code block."""
    body_start = front_matter_end(text)
    if offset < body_start:
        return True
    fence: tuple[str, int] | None = None
    for line in _FENCE_LINE.finditer(text, body_start, offset):
        marker = line.group(1)
        if fence is None and not (marker[0] == "`" and "`" in line.group(2)):
            fence = (marker[0], len(marker))
        elif fence is not None and marker[0] == fence[0] and len(marker) >= fence[1] and not line.group(2).strip():
            fence = None
    return fence is not None or _in_indented_code(text, offset)


def _in_indented_code(text: str, offset: int) -> bool:
    """An indented line below a blank line or more code, unless the paragraph above is a list item."""
    line_start = text.rfind("\n", 0, offset) + 1
    if not _INDENTED.match(text, line_start):
        return False
    above = text[max(0, line_start - WINDOW) : line_start].split("\n")[:-1]
    if above and above[-1].strip() and not _INDENTED.match(above[-1]):
        return False
    for previous in reversed(above):
        if previous.strip() and not _INDENTED.match(previous):
            return not LIST_ITEM.match(previous)
    return True


def _comma_keys(text: str) -> list[str]:
    return [key.strip() for key in text.split(",") if key.strip()]


def _context(syntax, command, inside, rest, line, col, tail, split_keys) -> CitationContext:
    """Context for comma-separated keys: `inside` is the text before the cursor, `rest` after it."""
    prefix = inside.rsplit(",", 1)[-1].rsplit("\n", 1)[-1].lstrip()  # a key never spans lines
    before_prefix = inside[: len(inside) - len(prefix)]
    after_key = rest[len(tail) :]
    keys_present = split_keys(before_prefix) + split_keys(after_key)
    return CitationContext(syntax, command, prefix, TextRange(line, col - len(prefix), line, col + len(tail)), keys_present, "key")
