"""Errors users see: one line each, naming the file and line where there is one."""

from __future__ import annotations


class CitewiseError(Exception):
    """A failure to report to the user as one line, never as a traceback."""


class SourceError(CitewiseError):
    """Bad input at a place in a file: rendered as `path:line: message`."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
