"""BibTeX name lists: `Family, Given and Given Family and {Organisation}` <-> Author records.

A person's name is split into first, von, last and jr parts by bibtexparser's `splitname`,
which follows BibTeX's own rules (a von part is the lowercase words, `{\\'e}tienne` counts as
lowercase, braces protect). Around it we keep what it does not do: organisations in braces,
biblatex's `family=…, given=…` form, and LaTeX to Unicode.
"""

from __future__ import annotations

import re

from bibtexparser.customization import InvalidName, splitname

from citewise.bib.bibtex.latex import latex_to_unicode
from citewise.bib.model import Author

_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# `\~{n}` is an accent, but splitname reads every `~` as a tie (a space): brace the accent first.
_TILDE_ACCENT = re.compile(r"\\~(\{[^{}]*\}|\\?[A-Za-z])")


def parse_names(value: str) -> list[Author]:
    """Authors of a BibTeX name list, in the three forms BibTeX knows: `First von Last`,
    `von Last, First` and `von Last, Jr, First`. A name wholly in braces is an organisation."""
    return [_parse_name(name) for name in _split_top_level(value, _AND) if name.strip() and name.strip() != "others"]


def _split_top_level(value: str, separator: re.Pattern) -> list[str]:
    """Split at `separator` matches outside braces."""
    parts, depth, start = [], 0, 0
    position = 0
    while position < len(value):
        char = value[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            match = separator.match(value, position)
            if match and match.end() > position:
                parts.append(value[start:position])
                start = position = match.end()
                continue
        position += 1
    parts.append(value[start:])
    return parts


_EXTENDED_PART = re.compile(r"^\s*([a-z-]+)\s*=\s*(.*?)\s*$", re.IGNORECASE)


def _parse_name(name: str) -> Author:
    name = " ".join(name.split())
    extended = _extended_name(name)
    if extended is not None:
        return extended
    if name.startswith("{") and name.endswith("}") and _split_top_level(name[1:-1], re.compile(r"[{}]")) == [name[1:-1]]:
        return Author(latex_to_unicode(name[1:-1]), "", literal=True)
    try:
        parts = splitname(_TILDE_ACCENT.sub(r"{\\~\1}", name), strict_mode=False)
    except (InvalidName, StopIteration):  # StopIteration: splitname on a name ending in a backslash
        return Author(latex_to_unicode(name))
    family = " ".join(parts["von"] + parts["last"])
    given = " ".join(parts["first"])
    if not family:  # `, John`: BibTeX keeps a lone part as the last name
        family, given = given, ""
    return Author(latex_to_unicode(family), latex_to_unicode(given))


def _extended_name(name: str) -> Author | None:
    """biblatex's `family=Gogh, given=Vincent, prefix=van, useprefix=true` form, or None."""
    parts = [_EXTENDED_PART.match(part) for part in _split_top_level(name, re.compile(r",\s*"))]
    if not parts or not all(parts) or not any(match.group(1).lower() == "family" for match in parts):
        return None
    values = {match.group(1).lower(): latex_to_unicode(match.group(2)) for match in parts}
    family = " ".join(filter(None, (values.get("prefix", ""), values.get("family", ""))))
    return Author(family, values.get("given", ""))


def format_names(authors: list[Author], to_latex) -> str:
    """`Family, Given and …`; organisations in braces so BibTeX keeps them whole.
    `to_latex` turns each part into the output's text form (escapes for BibTeX)."""
    written = []
    for author in authors:
        family = to_latex(author.family)
        if author.literal or (not author.given and " " in author.family):
            written.append("{" + family + "}")
        elif author.given:
            given, particles = _split_trailing_particles(author.given)
            family = " ".join(filter(None, (to_latex(particles), family)))
            written.append(f"{_protect_and(family)}, {_protect_and(to_latex(given))}")
        else:
            written.append(_protect_and(family))
    return " and ".join(written)


def _protect_and(part: str) -> str:
    return re.sub(r"\b(and)\b", r"{\1}", part, flags=re.IGNORECASE) if re.search(r"\band\b", part, re.IGNORECASE) else part


def _split_trailing_particles(given: str) -> tuple[str, str]:
    """`Jean de` -> (`Jean`, `de`): lowercase words ending a given name are BibTeX's von part."""
    words = given.split()
    cut = len(words)
    while cut > 1 and words[cut - 1][:1].islower() and not words[cut - 1].endswith("."):
        cut -= 1
    return " ".join(words[:cut]), " ".join(words[cut:])
