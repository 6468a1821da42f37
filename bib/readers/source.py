"""Low-level helpers the readers share: locating JSON values by line, dates, keys.

Files are read and decoded before they reach a reader, by `citewise.bib.files`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from citewise.bib.keys import fill_keys
from citewise.bib.model import Reference


def line_at(text: str, offset: int) -> int:
    """The 1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


_decoder = json.JSONDecoder()


def json_array_items(text: str, start: int) -> Iterator[tuple[int, object]]:
    """Yield (line, value) for each element of the JSON array opening at `start`.

    Parsing element by element keeps each element's 1-based line, so messages can name
    the item at fault. Raises json.JSONDecodeError (with its line) on bad JSON.
    """
    if text[start : start + 1] != "[":
        raise json.JSONDecodeError("expected '['", text, start)
    pos = _skip_space(text, start + 1)
    if text[pos : pos + 1] == "]":
        return
    line, counted_to = line_at(text, pos), pos
    while True:
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            value, end = _decoder.raw_decode(text, pos)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply to read", text, pos) from None
        yield line, value
        pos = _skip_space(text, end)
        separator = text[pos : pos + 1]
        if separator == "]":
            return
        if separator != ",":
            raise json.JSONDecodeError("expected ',' or ']'", text, pos)
        pos = _skip_space(text, pos + 1)


def json_member_offset(text: str, start: int, name: str) -> int | None:
    """Offset of the value of member `name` of the JSON object opening at `start`, if any."""
    if text[start : start + 1] != "{":
        raise json.JSONDecodeError("expected '{'", text, start)
    pos = _skip_space(text, start + 1)
    if text[pos : pos + 1] == "}":
        return None
    while True:
        key, end = _decoder.raw_decode(text, pos)
        pos = _skip_space(text, end)
        if text[pos : pos + 1] != ":":
            raise json.JSONDecodeError("expected ':'", text, pos)
        pos = _skip_space(text, pos + 1)
        if key == name:
            return pos
        _, end = _decoder.raw_decode(text, pos)
        pos = _skip_space(text, end)
        separator = text[pos : pos + 1]
        if separator == "}":
            return None
        if separator != ",":
            raise json.JSONDecodeError("expected ',' or '}'", text, pos)
        pos = _skip_space(text, pos + 1)


_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2[01]\d\d)(?!\d)")
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_SOURCE_KEY = re.compile(r"^[^\s\"#%'(),={}\\~/]+$")


def year_in(text: str) -> str:
    """The first plausible four-digit year in free-form date text, or ""."""
    match = _YEAR.search(text)
    return match.group(1) if match else ""


def iso_date(text: str) -> str:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD` from a date that starts in ISO order, else "".

    Zero parts are dropped: Zotero stores "1969" as `1969-00-00 1969`.
    """
    match = _ISO_DATE.match(text.strip())
    if not match:
        return ""
    year, month, day = match.groups()
    if not month or not int(month):
        return year
    if not day or not int(day):
        return f"{year}-{month.zfill(2)}"
    return f"{year}-{month.zfill(2)}-{day.zfill(2)}"


def usable_key(candidate: str) -> str:
    """`candidate` when it can serve as a BibTeX citation key as it is, else ""."""
    candidate = candidate.strip()
    if not candidate or candidate.isdigit() or not _SOURCE_KEY.match(candidate):
        return ""
    return candidate


def squash_space(text: str) -> str:
    """Runs of whitespace (newlines included) as single spaces, ends trimmed."""
    return " ".join(text.split())


def fill_missing_keys(references: list[Reference]) -> None:
    """Key every reference the source left without one by the key formula, unique among `references`."""
    fill_keys(references, {ref.key for ref in references if ref.key})
