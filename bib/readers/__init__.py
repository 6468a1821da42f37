"""Read references from files and directories, whatever format they are in.

`read_path` takes a file or a directory (read recursively). Each file's format is
detected from its content (`detect_format`), with the extension only as a tie-breaker.
Files that cannot be read are reported in `ReadResult.errors` and never stop the rest.
Every reference returned has a key, unique within the read when citewise made it, and
an origin (file and line).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.model import Reference
from citewise.bib.readers.arxiv_jsonl import read_arxiv_jsonl
from citewise.bib.readers.bibtex import read_bibtex
from citewise.bib.readers.csl_json import read_csl_json
from citewise.bib.readers.digest import looks_like_digest, read_digest
from citewise.bib.readers.source import SNIFF_BYTES, NotText, decode_text, fill_missing_keys, looks_binary
from citewise.bib.readers.zotero_json import read_zotero_json

HEAD_CHARS = 65536
SQLITE_MAGIC = "SQLite format 3\x00"
UNKNOWN_FORMAT = (
    "unknown format (not BibTeX, CSL-JSON, Zotero JSON, arXiv JSON Lines, a Daily Papers digest or zotero.sqlite)"
)

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
    if head.startswith(SQLITE_MAGIC):
        return "zotero-sqlite"
    body = head.lstrip("\ufeff \t\n\r")
    suffix = Path(path).suffix.lower()
    if body.startswith(("{", "[")):
        return _json_format(body, suffix)
    if _BIB_ENTRY.search(body) or suffix == ".bib":
        return "bibtex"
    if looks_like_digest(body):
        return "digest"
    return None


def _json_format(body: str, suffix: str) -> str | None:
    if '"authors_parsed"' in body or (body.startswith("{") and '"categories"' in body and '"abstract"' in body):
        return "arxiv-jsonl"
    if '"itemType"' in body:
        return "zotero-json"
    if _CSL_TYPE.search(body) or _CSL_MARK.search(body) or (suffix == ".json" and body.startswith("[]")):
        return "csl-json"
    return None


def read_path(path: str | os.PathLike) -> ReadResult:
    """References from a file or, recursively, a directory (hidden entries skipped)."""
    path = Path(path)
    result = ReadResult()
    if path.is_dir():
        for file in _walk(path):
            _read_file(file, result)
    elif path.exists():
        _read_file(path, result)
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


def _read_file(file: Path, result: ReadResult) -> None:
    name = str(file)
    if not file.is_file():
        result.errors.append(SourceError(name, None, "not a regular file"))
        return
    try:
        kind, text = _sniff(file)
    except OSError as error:
        result.errors.append(SourceError(name, None, f"cannot read: {error.strerror or error}"))
        return
    except NotText as error:
        result.errors.append(SourceError(name, None, str(error)))
        return
    if kind == "zotero-sqlite":
        _read_sqlite(name, result)
        return
    reader = _TEXT_READERS.get(kind)
    if reader is None:
        result.errors.append(SourceError(name, None, UNKNOWN_FORMAT))
        return
    try:
        references, errors = reader(name, text)
    except CitewiseError as error:
        references, errors = [], [_as_source_error(name, error)]
    result.files.append(name)
    result.references.extend(references)
    result.errors.extend(errors)


def _sniff(file: Path) -> tuple[str | None, str]:
    """(format, text) of a file. Its start is looked at first, so databases and binaries are not loaded."""
    with file.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
        if head.startswith(SQLITE_MAGIC.encode()):
            return "zotero-sqlite", ""
        if looks_binary(head):
            raise NotText("binary file, not a format citewise reads")
        text = decode_text(head + stream.read())
    return detect_format(str(file), text[:HEAD_CHARS]), text


def _read_sqlite(name: str, result: ReadResult) -> None:
    from citewise.bib.zotero.sqlite_reader import read_zotero_sqlite

    try:
        references = read_zotero_sqlite(name)
    except CitewiseError as error:
        result.errors.append(_as_source_error(name, error))
        return
    result.files.append(name)
    result.references.extend(references)


def _as_source_error(name: str, error: CitewiseError) -> SourceError:
    return error if isinstance(error, SourceError) else SourceError(name, None, str(error))


_TEXT_READERS: dict[str | None, Callable[[str, str], tuple[list[Reference], list[SourceError]]]] = {
    "digest": read_digest,
    "bibtex": read_bibtex,
    "csl-json": read_csl_json,
    "zotero-json": read_zotero_json,
    "arxiv-jsonl": read_arxiv_jsonl,
}
