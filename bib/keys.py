"""Citation keys: the key formula and its disambiguation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

from citewise.bib.model import Reference


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def base_key(ref: Reference) -> str:
    """`familyYearFirstword` from the first author, the year and the first title word."""
    family = _ascii(ref.authors[0].family).lower() if ref.authors else "anon"
    family = re.sub(r"[^a-z]", "", family) or "anon"
    words = re.findall(r"[A-Za-z0-9]+", _ascii(ref.title))
    first = words[0].capitalize() if words else ""
    return f"{family}{ref.year}{first}"


def make_key(ref: Reference, taken: Container[str] = ()) -> str:
    """A key for `ref` that is not in `taken`, suffixed a, b, c… when needed."""
    key = base_key(ref)
    if key not in taken:
        return key
    for suffix in _suffixes():
        if key + suffix not in taken:
            return key + suffix
    raise AssertionError("unreachable")


def _suffixes():
    letters = "abcdefghijklmnopqrstuvwxyz"
    yield from letters
    for first in letters:
        for second in letters:
            yield first + second
