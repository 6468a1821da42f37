"""A bibliography is all its files together.

BibTeX reads `\\bibliography{IEEEabrv,refs}` as one stream, so the @strings one file defines
serve every file after it: that is how IEEEabrv, long/short journal-name files and lab-wide
string files are used. `read_bibliography` reads files in order that way; `with_earlier_strings`
re-reads, in one already parsed file, the entries that use a string only an earlier file
defines. Only a string no earlier file (and not the file itself) defines stays an
`UndefinedString` warning; the entry is kept either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from citewise.bib.bibtex.reader import BibEntry, BibFile, inherit_crossref_fields, parse_fields, read_bib_file
from citewise.bib.errors import SourceError, UndefinedString


def read_bibliography(paths: Iterable[str]) -> tuple[list[BibFile], list[SourceError]]:
    """The files of one bibliography in order, each read with the @strings of those before it,
    and the files that could not be read at all."""
    files: list[BibFile] = []
    unreadable: list[SourceError] = []
    strings: dict[str, str] = {}
    for path in paths:
        try:
            bib = with_earlier_strings(read_bib_file(path), strings)
        except SourceError as error:
            unreadable.append(error)
            continue
        files.append(bib)
        strings.update(bib.strings)
    return files, unreadable


def strings_before(files: Iterable[BibFile], path: str) -> dict[str, str]:
    """The @strings the files listed before `path` define (later definitions win)."""
    strings: dict[str, str] = {}
    for bib in files:
        if bib.path == path:
            break
        strings.update(bib.strings)
    return strings


def with_earlier_strings(bib: BibFile, earlier: Mapping[str, str]) -> BibFile:
    """`bib` as BibTeX reads it after files defining `earlier`: `bib` itself when no entry
    needs them, else a copy whose entries that did are read again with them."""
    if not earlier:
        return bib
    bib.wait_for_fields()
    keys = {error.key for error in bib.errors if isinstance(error, UndefinedString) and error.name in earlier}
    if not keys:
        return bib
    macros = {**earlier, **bib.strings}
    errors = [error for error in bib.errors if not (isinstance(error, UndefinedString) and error.key in keys)]
    entries = [_reread(entry, macros, bib.path, errors) if entry.key in keys else entry for entry in bib.entries]
    resolved = dataclasses.replace(bib, entries=entries, errors=errors)
    by_key = {entry.key.lower(): entry for entry in reversed(entries)}
    for entry in entries:
        parent = by_key.get(entry.fields.get("crossref", "").lower()) if entry.key in keys else None
        if parent is not None and parent is not entry:
            inherit_crossref_fields(entry, parent)
    resolved.errors.sort(key=lambda error: error.line or 0)
    return resolved


def _reread(entry: BibEntry, macros: dict[str, str], path: str, errors: list[SourceError]) -> BibEntry:
    value = parse_fields(entry, macros)
    errors.extend(UndefinedString(path, entry.line, entry.key, name) for name in value["undefined"])
    return BibEntry(entry.key, entry.entry_type, dict(value["fields"]), entry.span, entry.key_span, entry.raw, entry.problem)
