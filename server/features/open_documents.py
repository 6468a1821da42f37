"""The documents the editor has open, which override the files on disk, and file stamps.

A `Document` is one immutable snapshot of a text: a newer version is a new `Document`
with a higher `generation`. `OpenDocuments.stamp(path)` is the one thing every cache in the
workspace keys on for a file: the open document's generation, else the file's mtime
and size on disk.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from functools import cached_property

from citewise.bib.errors import SourceError
from citewise.server.drafts.latex import scan_latex
from citewise.server.drafts.markdown import scan_markdown
from citewise.server.drafts.model import Citation
from citewise.server.drafts.project import language_of
from citewise.server.drafts.uris import path_to_uri, uri_to_path
from citewise.server.features.positions import LspLineIndex

Stamp = tuple  # ("open", generation) or ("disk", mtime_ns, size)

_generations = itertools.count(1)


def read_text(path: str) -> str | None:
    """A regular file's text (see `citewise.bib.files`); "" for binary data, None when it cannot be read."""
    from citewise.bib.files import decode, read_bytes

    try:
        data = read_bytes(path)
    except SourceError:
        return None
    try:
        return decode(data, path).text
    except SourceError:
        return ""


def disk_stamp(path: str) -> Stamp | None:
    """("disk", mtime_ns, size) of a file, None when it is gone."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return ("disk", status.st_mtime_ns, status.st_size)


@dataclass(frozen=True)
class DraftScan:
    citations: list[Citation]
    bibliographies: list[str]  # as written in the file
    structure: tuple = ()  # what in the file shapes its project: includes, declarations, macros (no positions)


def scan_draft(text: str, language: str | None, path: str, extra_macros: tuple[str, ...] = ()) -> DraftScan:
    """Citations, bibliography declarations and structure of one draft file; empty for unparseable text."""
    try:
        if language == "latex":
            scan = scan_latex(text, path, extra_macros)
            includes = tuple((i.path, i.command, i.relative_to_file) for i in scan.includes)
            structure = (includes, tuple(scan.bibliographies), tuple(scan.unresolved_bibliographies),
                         tuple(scan.macros), tuple(scan.text_macros.items()))
            return DraftScan(scan.citations, scan.bibliographies, structure)
        if language == "markdown":
            found = scan_markdown(text, path)
            structure = (tuple(name for name, _ in found.includes), tuple(found.bibliographies))
            return DraftScan(found.citations, found.bibliographies, structure)
    except (ValueError, RecursionError):
        pass
    return DraftScan([], [])


# A declaration's lines run to the end of its argument: `\bibliography{long,%` + newline + `other}`.
_DECLARATION_LINE = re.compile(r"^.*(?:bibliograph|addbibresource|addglobalbib|addsectionbib|documentclass|TeX\s*root"
                               r"|bibtex_bibfiles|newcommand|\\def\\)(?:[^{}\n]*\{[^{}]*\}?)?.*$",
                               re.MULTILINE | re.IGNORECASE)


@dataclass
class Document:
    uri: str
    path: str
    text: str
    language: str | None
    version: int | None = None
    generation: int = field(default_factory=lambda: next(_generations))

    @cached_property
    def lines(self) -> LspLineIndex:
        return LspLineIndex(self.text)

    @cached_property
    def scan(self) -> DraftScan:
        return scan_draft(self.text, self.language, self.path)

    @property
    def citations(self) -> list[Citation]:
        return self.scan.citations

    @cached_property
    def declaration_lines(self) -> tuple[str, ...]:
        """The lines that can change which .bib files the draft uses (cheap to find)."""
        return tuple(_DECLARATION_LINE.findall(self.text))


class OpenDocuments:
    """Open documents by absolute path; owned by the features thread."""

    def __init__(self) -> None:
        self._open: dict[str, Document] = {}
        self.texts_received = 0  # documents opened or updated: edits arrive coalesced

    def open(self, uri: str, text: str, version: int | None = None) -> Document:
        path = uri_to_path(uri)
        document = Document(uri, path, text, language_of(path), version)
        self._open[path] = document
        self.texts_received += 1
        return document

    def close(self, uri: str) -> str:
        path = uri_to_path(uri)
        self._open.pop(path, None)
        return path

    def get(self, path: str) -> Document | None:
        """The open document at an absolute path, if any."""
        return self._open.get(path)

    def __len__(self) -> int:
        return len(self._open)

    def drafts(self) -> dict[str, Document]:
        """Open documents that are drafts (LaTeX or Markdown), by path."""
        return {path: document for path, document in self._open.items() if document.language}

    def document(self, uri: str) -> Document | None:
        """The open document, or the file on disk read as one; None if neither exists."""
        path = uri_to_path(uri)
        document = self._open.get(path)
        if document is not None:
            return document
        text = read_text(path) if os.path.isfile(path) else None
        if text is None:
            return None
        return Document(uri if "://" in uri else path_to_uri(path), path, text, language_of(path))

    def stamp(self, path: str) -> Stamp | None:
        """What a cache of `path`'s content is keyed by: the open document's generation, else
        the file's mtime and size; None when neither exists."""
        document = self._open.get(path)
        if document is not None:
            return ("open", document.generation)
        return disk_stamp(path)
