"""Read references from files and directories, whatever format they are in.

`read_path` takes a file or a directory (read recursively). Each file's format is
detected from its content (`detect_format`), with the extension only as a tie-breaker.
Files that cannot be read are reported in `ReadResult.errors` and never stop the rest.
Every reference returned has a key, unique within the read when citewise made it, and
an origin (file and line).

`FORMATS` is the registry: one entry per format with its name, description, usual
extensions, detector and reader. Adding a format means adding a reader module and one
entry; detection, the unknown-format message and the CLI help follow from it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.files import MAX_READ_BYTES, decode, open_regular
from citewise.bib.model import Reference
from citewise.bib.readers.arxiv_jsonl import read_arxiv_jsonl
from citewise.bib.readers.bibtex_adapter import read_bibtex
from citewise.bib.readers.csl_json import read_csl_json
from citewise.bib.readers.digest import looks_like_digest, read_digest
from citewise.bib.readers.source import fill_missing_keys
from citewise.bib.readers.zotero_json import read_zotero_json

HEAD_CHARS = 65536
SQLITE_MAGIC = "SQLite format 3\x00"

_BIB_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_CSL_TYPE = re.compile(r'"type"\s*:\s*"(article|article-[a-z]+|paper-conference|book|chapter|thesis|report|webpage|'
                       r'manuscript|dataset|entry-[a-z]+|post|post-weblog|software|speech|patent|review|document)"')
_CSL_MARK = re.compile(r'"(issued|container-title|citation-key|author)"\s*:\s*[\[{"]')


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
    if path.is_dir():
        for file in _walk(path):
            _read_file(file, result, strings)
    elif path.exists():
        _read_file(path, result, strings)
    else:
        result.errors.append(SourceError(str(path), None, "no such file or directory"))
    fill_missing_keys(result.references)
    return result


def _walk(root: Path):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and not name.endswith(("-wal", "-shm", "-journal")):
                yield Path(directory) / name


def _read_file(file: Path, result: ReadResult, strings: dict[str, str]) -> None:
    name = str(file)
    try:
        kind, text = _sniff(file)
    except SourceError as error:
        result.errors.append(error)
        return
    reader_format = format_named(kind)
    if reader_format is None:
        result.errors.append(SourceError(name, None, f"unknown format (not {_format_names()})"))
        return
    try:
        references, errors = reader_format.read(name, text, strings)
    except CitewiseError as error:
        references, errors = [], [_as_source_error(name, error)]
    except RecursionError:
        references, errors = [], [SourceError(name, None, "nested too deeply to read")]
    result.files.append(name)
    result.references.extend(references)
    result.errors.extend(errors)


def _sniff(file: Path) -> tuple[str | None, str]:
    """(format, text) of a regular file. Its start is looked at first, so databases are not loaded."""
    with open_regular(file, limit=None) as stream:
        try:
            head = stream.read(len(SQLITE_MAGIC))
            if head == SQLITE_MAGIC.encode():
                return "zotero-sqlite", ""
            data = head + stream.read(MAX_READ_BYTES)
        except OSError as error:
            raise SourceError(str(file), None, f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_READ_BYTES:
        raise SourceError(str(file), None, f"more than the {MAX_READ_BYTES // 2**20} MB citewise reads")
    text = decode(data, str(file), "a format citewise reads").text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return detect_format(str(file), text[:HEAD_CHARS]), text


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
"""(path, decoded text, BibTeX @strings of the files read before) -> (references, problems found)."""


def _text_only(read: Callable[[str, str], tuple[list[Reference], list[SourceError]]]) -> Reader:
    """A reader of a format without @strings."""
    return lambda path, text, strings: read(path, text)


@dataclass(frozen=True)
class Format:
    """One format citewise reads: `detect(head, suffix)` looks at the start of a file's text
    (leading whitespace and BOM stripped, except for the binary zotero-sqlite header)."""

    name: str
    description: str
    extensions: tuple[str, ...]
    detect: Callable[[str, str], bool]
    read: Reader


FORMATS: tuple[Format, ...] = (
    # Detection tries the entries in this order: the more specific JSON shapes first.
    Format("zotero-sqlite", "zotero.sqlite", (".sqlite",), lambda head, _: head.startswith(SQLITE_MAGIC),
           _read_sqlite),
    Format("arxiv-jsonl", "arXiv JSON Lines", (".jsonl", ".json"), _is_arxiv_jsonl, _text_only(read_arxiv_jsonl)),
    Format("zotero-json", "Zotero JSON", (".json",), _is_zotero_json, _text_only(read_zotero_json)),
    Format("csl-json", "CSL-JSON", (".json",), _is_csl_json, _text_only(read_csl_json)),
    Format("bibtex", "BibTeX", (".bib",), _is_bibtex, read_bibtex),
    Format("digest", "a Daily Papers digest", (".txt",), _is_digest, _text_only(read_digest)),
)
