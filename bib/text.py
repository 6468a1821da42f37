"""Text normalisation shared by bib/: the one ASCII fold (keys, deduplication and title
matching all use it), and plain words out of LaTeX or Markdown (what the index searches
for when a draft is the query)."""

from __future__ import annotations

import re
import unicodedata

_TRANSLITERATION = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
     "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "ŋ": "ng", "Ŋ": "Ng"}
)


def ascii_fold(text: str) -> str:
    """`Łukasz Müller-Ødegård` -> `Lukasz Muller-Odegard`: transliterated, accents removed.

    Letters without a decomposition (ø, ł, ß, …) are transliterated first; NFKD then splits
    accents off and drops them, so no letter of a name silently disappears."""
    text = text.translate(_TRANSLITERATION)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()

_LATEX_COMMENT = re.compile(r"(?<!\\)%.*")
_DISPLAY_MATH = re.compile(
    r"\$\$.*?\$\$|\\\[(?:(?!\\\[).)*?\\\]"
    r"|\\begin\{(equation|align|gather|multline|eqnarray)\*?\}(?:(?!\\begin\{\1\*?\}).)*?\\end\{\1\*?\}",
    re.S,
)
_INLINE_MATH = re.compile(r"(?<!\\)\$[^$\n]*?(?<!\\)\$|\\\((?:(?!\\\().)*?\\\)", re.S)
_CITE_OR_REF = re.compile(r"\\[A-Za-z]*(cite|ref|label|url|include|input|bibliography)[A-Za-z]*\*?(\[[^\[\]]*\])*\{[^{}]*\}")
_ENVIRONMENT = re.compile(r"\\(begin|end)\{[^{}]*\}")
_COMMAND_WITH_OPTIONS = re.compile(r"\\[A-Za-z@]+\*?(\[[^\[\]]*\])?")
_ESCAPED_SYMBOL = re.compile(r"\\([&%$#_{}])")
_PANDOC_CITE = re.compile(r"\[[^\[\]]*@[^\[\]]*\]|(?<![\w.])@[\w:.#$%&+?<>~/-]+")
_MYST_ROLE = re.compile(r"\{[a-z:]+\}`[^`]*`")
_MD_IMAGE_OR_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
_MD_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_MD_HTML = re.compile(r"<[^<>\n]+>")
_MD_LINE_MARKERS = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.M)
_MD_EMPHASIS = re.compile(r"[*_~]{1,3}")
_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"\s+")
# Every pattern above stops at the next opener of its own kind (`[^\[\]]`, `(?!\\\[)` ...), so
# a text of unclosed or nested brackets costs linear time, not quadratic.


def strip_markup(text: str) -> str:
    """The words of `text` with LaTeX commands, citations, math and Markdown syntax removed."""
    text = _LATEX_COMMENT.sub("", text)
    text = _MYST_ROLE.sub(" ", text)
    text = _MD_CODE.sub(" ", text)
    text = _DISPLAY_MATH.sub(" ", text)
    text = _INLINE_MATH.sub(" ", text)
    text = _CITE_OR_REF.sub(" ", text)
    text = _ENVIRONMENT.sub(" ", text)
    text = _ESCAPED_SYMBOL.sub(r"\1", text)
    text = _COMMAND_WITH_OPTIONS.sub(" ", text)
    text = _PANDOC_CITE.sub(" ", text)
    text = _MD_IMAGE_OR_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MD_HTML.sub(" ", text)
    text = _MD_LINE_MARKERS.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    text = text.replace("{", "").replace("}", "").replace("~", " ")
    return _SPACES.sub(" ", text).strip()
