"""Errors users see: one line each, naming the file and line where there is one."""

from __future__ import annotations


class CitewiseError(Exception):
    """A failure to report to the user as one line, never as a traceback."""


class SourceError(CitewiseError):
    """Bad input at a place in a file: rendered as `path:line: message`. A `warning` costs
    nothing (the entry is still read); any other SourceError cost what it names."""

    warning = False

    def __init__(self, path: str, line: int | None, message: str):
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class UndefinedString(SourceError):
    """An entry uses an @string no file of its bibliography defines: BibTeX warns and reads
    the value as empty; so do we, and the entry is kept."""

    warning = True

    def __init__(self, path: str, line: int | None, key: str, name: str):
        super().__init__(path, line, f"entry {key!r} uses undefined @string {name!r}")
        self.key = key
        self.name = name
