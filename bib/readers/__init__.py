"""Read references from files and directories, whatever format they are in.

`read_path` takes a file or a directory (read recursively). Each file's format is
detected from its content (`detect_format`), with the extension only as a tie-breaker.
Files that cannot be read are reported in `ReadResult.errors` and never stop the rest.
Every reference returned has a key, unique within the read when citewise made it, and
an origin (file and line).

`FORMATS` is the registry: one entry per format with its name, description, usual
extensions, detector and reader. Adding a format means adding a reader module and one
entry; detection, the unknown-format message and the CLI help follow from it.

Every file is read as a stream of items (`read_file_items`): a reference or a problem,
each with the place where a later read resumes. A line format (arXiv JSON Lines, the one
that comes in gigabytes) is read line by line from disk at any size, so ingest memory
stays flat; a document format (a JSON array, BibTeX, a digest, a Zotero database) is
parsed from its whole text, at most `citewise.bib.files.MAX_READ_BYTES`, and its references are then handed
on one at a time. Only the start of a file is read to tell its format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.files import decode, open_regular, read_text
from citewise.bib.model import Reference
from citewise.bib.readers.arxiv_jsonl import stream_arxiv_jsonl
from citewise.bib.readers.bibtex_adapter import read_bibtex
from citewise.bib.readers.csl_json import read_csl_json
from citewise.bib.readers.digest import looks_like_digest, read_digest
from citewise.bib.readers.source import fill_missing_keys
from citewise.bib.readers.zotero_json import read_zotero_json

HEAD_CHARS = 65536
HEAD_BYTES = 4 * HEAD_CHARS
SQLITE_MAGIC = "SQLite format 3\x00"

_BIB_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_CSL_TYPE = re.compile(r'"type"\s*:\s*"(article|article-[a-z]+|paper-conference|book|chapter|thesis|report|webpage|'
                       r'manuscript|dataset|entry-[a-z]+|post|post-weblog|software|speech|patent|review|document)"')
_CSL_MARK = re.compile(r'"(issued|container-title|citation-key|author)"\s*:\s*[\[{"]')


@dataclass(frozen=True)
class Resume:
    """Where a read of one file continues: the byte offset and line number after the last item
    for a line format; the number of items already read (`offset`, `line` 0) for a document format."""

    offset: int = 0
    line: int = 0


@dataclass(frozen=True)
class ReadItem:
    """One thing read from a file: a reference or a problem, and where reading resumes after it."""

    found: Reference | SourceError
    resume: Resume


@dataclass
class FileItems:
    """One file to read: `format` is None when it could not be read or recognised (then its
    items are that one problem). Its format is known at once; `items` reads the file lazily."""

    path: str
    format: str | None
    size: int
    mtime_ns: int
    _read: Callable[[Resume], Iterator[ReadItem]]

    def items(self, resume: Resume = Resume()) -> Iterator[ReadItem]:
        """The file's items from `resume` on, read as they are taken."""
        return self._read(resume)


@dataclass
class ReadResult:
    """What a read produced: references, problems found (file:line), and the files read."""

    references: list[Reference] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """The files whose format was recognised and read (possibly with errors)."""


def detect_format(path: str, head: str) -> str | None:
    """The format of a file from the start of its text (`head`); None when unrecognised."""
    suffix = Path(path).suffix.lower()
    body = head.lstrip("\ufeff \t\n\r")
    for reader_format in FORMATS:
        if reader_format.detect(head if reader_format.name == "zotero-sqlite" else body, suffix):
            return reader_format.name
    return None


def format_named(name: str | None) -> Format | None:
    return next((reader_format for reader_format in FORMATS if reader_format.name == name), None)


def describe_formats() -> str:
    """The formats as a short list for help texts: "BibTeX (.bib), CSL-JSON (.json), …"."""
    return ", ".join(f"{f.description} ({', '.join(f.extensions)})" for f in FORMATS)


def read_paths(paths: Iterable[str | os.PathLike]) -> list[ReadResult]:
    """`read_path` of each path in order, as one read: the @strings of a .bib serve the .bib
    files after it (`index add IEEEabrv.bib refs.bib`)."""
    strings: dict[str, str] = {}
    return [read_path(path, strings) for path in paths]


def read_path(path: str | os.PathLike, strings: dict[str, str] | None = None) -> ReadResult:
    """References from a file or, recursively, a directory (hidden entries skipped).

    `strings` carries BibTeX @strings from file to file (see `read_paths`)."""
    path = Path(path)
    result = ReadResult()
    strings = {} if strings is None else strings
    for file in files_in(path, result.errors):
        read = read_file_items(file, strings)
        if read.format is not None:
            result.files.append(read.path)
        for item in read.items():
            if isinstance(item.found, Reference):
                result.references.append(item.found)
            else:
                result.errors.append(item.found)
    fill_missing_keys(result.references)
    return result


def files_in(path: Path, errors: list[SourceError]) -> Iterator[Path]:
    """`path` itself, or every file under a directory (hidden entries skipped); a missing path
    is reported in `errors`."""
    if path.is_dir():
        yield from _walk(path)
    elif path.exists():
        yield path
    else:
        errors.append(SourceError(str(path), None, "no such file or directory"))


def read_file_items(file: Path, strings: dict[str, str] | None = None) -> FileItems:
    """One file, its format told from its first bytes; `strings` carries BibTeX @strings between files."""
    name = str(file)
    try:
        kind, info = _sniff(file)
    except SourceError as error:
        unreadable = error
        return FileItems(name, None, 0, 0, lambda resume: iter([ReadItem(unreadable, resume)]))
    reader_format = format_named(kind)
    if reader_format is None:
        problem = SourceError(name, None, f"unknown format (not {_format_names()})")
        return FileItems(name, None, info.st_size, info.st_mtime_ns, lambda resume: iter([ReadItem(problem, resume)]))
    if reader_format.stream is not None:
        stream = reader_format.stream
        return FileItems(name, kind, info.st_size, info.st_mtime_ns, lambda resume: _streamed(file, stream, resume))
    strings = {} if strings is None else strings
    return FileItems(name, kind, info.st_size, info.st_mtime_ns,
                     lambda resume: _parsed_whole(file, reader_format, strings, resume))


def _streamed(file: Path, stream: LineReader, resume: Resume) -> Iterator[ReadItem]:
    name = str(file)
    try:
        with open_regular(file, limit=None) as opened:
            for found, offset, line in stream(name, opened, resume.offset, resume.line):
                yield ReadItem(found, Resume(offset, line))
    except SourceError as error:
        yield ReadItem(error, resume)
    except OSError as error:
        yield ReadItem(SourceError(name, None, f"cannot read: {error.strerror or error}"), resume)


def _parsed_whole(file: Path, reader_format: Format, strings: dict[str, str], resume: Resume) -> Iterator[ReadItem]:
    name = str(file)
    assert reader_format.read is not None  # a format without `stream` has `read`
    try:
        text = "" if reader_format.name == "zotero-sqlite" else _whole_text(file)
        references, errors = reader_format.read(name, text, strings)
    except CitewiseError as error:
        references, errors = [], [_as_source_error(name, error)]
    except RecursionError:
        references, errors = [], [SourceError(name, None, "nested too deeply to read")]
    found: list[Reference | SourceError] = [*references, *errors]
    for number in range(resume.offset, len(found)):
        yield ReadItem(found[number], Resume(number + 1))


def _walk(root: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and not name.endswith(("-wal", "-shm", "-journal")):
                yield Path(directory) / name


def _sniff(file: Path) -> tuple[str | None, os.stat_result]:
    """(format, size and time) of a regular file, from its first bytes only."""
    with open_regular(file, limit=None) as stream:
        try:
            info = os.fstat(stream.fileno())
            data = stream.read(HEAD_BYTES)
        except OSError as error:
            raise SourceError(str(file), None, f"cannot read: {error.strerror or error}") from None
    if data.startswith(SQLITE_MAGIC.encode()):
        return "zotero-sqlite", info
    if len(data) == HEAD_BYTES and b"\n" in data:
        data = data[:data.rindex(b"\n") + 1]  # no character cut in two
    head = decode(data, str(file), "a format citewise reads").text
    return detect_format(str(file), head.replace("\r\n", "\n").replace("\r", "\n")[:HEAD_CHARS]), info


def _whole_text(file: Path) -> str:
    """The decoded text of a file read whole (document formats), at most MAX_READ_BYTES."""
    text = read_text(file, "a format citewise reads").text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_sqlite(name: str, text: str, strings: dict[str, str]) -> tuple[list[Reference], list[SourceError]]:
    from citewise.bib.zotero.sqlite_reader import read_zotero_sqlite

    return read_zotero_sqlite(name), []


def _as_source_error(name: str, error: CitewiseError) -> SourceError:
    return error if isinstance(error, SourceError) else SourceError(name, None, str(error))


def _format_names() -> str:
    names = [f.description for f in FORMATS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _starts_json(body: str) -> bool:
    return body.startswith(("{", "["))


def _is_arxiv_jsonl(body: str, suffix: str) -> bool:
    return _starts_json(body) and (
        '"authors_parsed"' in body or (body.startswith("{") and '"categories"' in body and '"abstract"' in body))


def _is_zotero_json(body: str, suffix: str) -> bool:
    return _starts_json(body) and '"itemType"' in body


def _is_csl_json(body: str, suffix: str) -> bool:
    return _starts_json(body) and bool(
        _CSL_TYPE.search(body) or _CSL_MARK.search(body) or (suffix == ".json" and body.startswith("[]")))


def _is_bibtex(body: str, suffix: str) -> bool:
    return not _starts_json(body) and bool(_BIB_ENTRY.search(body) or suffix == ".bib")


def _is_digest(body: str, suffix: str) -> bool:
    return not _starts_json(body) and looks_like_digest(body)


Reader = Callable[[str, str, dict[str, str]], tuple[list[Reference], list[SourceError]]]
"""A document format: (path, decoded text, BibTeX @strings of the files read before) ->
(references, problems found)."""

LineReader = Callable[[str, BinaryIO, int, int], Iterator[tuple[Reference | SourceError, int, int]]]
"""A line format: (path, open file, byte offset, line number there) -> (reference or problem,
byte offset after it, its line number) for each item from there on."""


def _text_only(read: Callable[[str, str], tuple[list[Reference], list[SourceError]]]) -> Reader:
    """A reader of a format without @strings."""
    return lambda path, text, strings: read(path, text)


@dataclass(frozen=True)
class Format:
    """One format citewise reads: `detect(head, suffix)` looks at the start of a file's text
    (leading whitespace and BOM stripped, except for the binary zotero-sqlite header).
    A document format has `read`, a line format `stream`."""

    name: str
    description: str
    extensions: tuple[str, ...]
    detect: Callable[[str, str], bool]
    read: Reader | None = None
    stream: LineReader | None = None


FORMATS: tuple[Format, ...] = (
    # Detection tries the entries in this order: the more specific JSON shapes first.
    Format("zotero-sqlite", "zotero.sqlite", (".sqlite",), lambda head, _: head.startswith(SQLITE_MAGIC),
           _read_sqlite),
    Format("arxiv-jsonl", "arXiv JSON Lines", (".jsonl", ".json"), _is_arxiv_jsonl, stream=stream_arxiv_jsonl),
    Format("zotero-json", "Zotero JSON", (".json",), _is_zotero_json, _text_only(read_zotero_json)),
    Format("csl-json", "CSL-JSON", (".json",), _is_csl_json, _text_only(read_csl_json)),
    Format("bibtex", "BibTeX", (".bib",), _is_bibtex, read_bibtex),
    Format("digest", "a Daily Papers digest", (".txt",), _is_digest, _text_only(read_digest)),
)
