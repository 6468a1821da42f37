"""Reader for the arXiv metadata snapshot: JSON Lines, one paper per line.

Each line holds `id`, `title`, `abstract`, `authors_parsed` ([[last, first, suffix], …]),
`doi`, `categories`, `update_date` and `journal-ref`. A broken line costs only that line.

The snapshot is a 4.5 GB file, so the reader streams: it reads one line at a time from
the open file and yields each paper with the byte offset and line number just after it,
where a later read can resume (`stream_arxiv_jsonl`). JSON Lines text is UTF-8 by the
format's definition; a line that is not valid UTF-8 is reported as malformed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from citewise.bib.errors import SourceError
from citewise.bib.model import Author, Origin, Reference, normalize_arxiv, normalize_doi
from citewise.bib.readers.source import squash_space, year_in

UTF8_BOM = b"\xef\xbb\xbf"
_NEW_STYLE_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}")
_OLD_STYLE_ID = re.compile(r"/(\d{2})(\d{2})\d{3}")


def stream_arxiv_jsonl(
    path: str, stream: BinaryIO, offset: int = 0, line: int = 0
) -> Iterator[tuple[Reference | SourceError, int, int]]:
    """(paper or problem, byte offset after its line, its line number) for each non-blank line,
    starting at byte `offset`, which is just after line number `line`."""
    stream.seek(offset)
    number = line
    for raw in stream:
        number += 1
        offset += len(raw)
        if offset == len(raw) and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]
        if not raw.strip():
            continue
        yield _paper_or_problem(path, raw, number), offset, number


def _paper_or_problem(path: str, raw: bytes, number: int) -> Reference | SourceError:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return SourceError(path, number, "malformed JSON: not UTF-8 text")
    except json.JSONDecodeError as error:
        return SourceError(path, number, f"malformed JSON: {error.msg}")
    except RecursionError:
        return SourceError(path, number, "malformed JSON: nested too deeply to read")
    if not isinstance(record, dict) or not record.get("title"):
        return SourceError(path, number, "not an arXiv record (no title)")
    ref = reference_from_arxiv_record(record)
    ref.origin = Origin(path, number)
    return ref


def reference_from_arxiv_record(record: dict) -> Reference:
    """A `misc` reference with the arXiv id set; the year comes from the id, else update_date."""
    arxiv = normalize_arxiv(str(record.get("id", "")))
    categories = str(record.get("categories") or "").split()
    year, month = _year_month(arxiv)
    if not year:
        year = year_in(str(record.get("update_date") or ""))
    extra_fields = {"archiveprefix": "arXiv"}
    if categories:
        extra_fields["primaryclass"] = categories[0]
    if record.get("journal-ref"):
        extra_fields["note"] = squash_space(str(record["journal-ref"]))
    return Reference(
        entry_type="misc",
        title=squash_space(str(record.get("title", ""))),
        authors=_authors(record),
        year=year,
        date=f"{year}-{month}" if month else year,
        doi=normalize_doi(str(record.get("doi") or "")),
        arxiv=arxiv,
        url=f"https://arxiv.org/abs/{arxiv}" if arxiv else "",
        abstract=squash_space(str(record.get("abstract") or "")),
        keywords=categories,
        extra_fields=extra_fields,
    )


def _year_month(arxiv: str) -> tuple[str, str]:
    """Submission year and month encoded in an id: `2310.13268` → 2023-10, `hep-th/9901001` → 1999-01."""
    match = _NEW_STYLE_ID.match(arxiv) or _OLD_STYLE_ID.search(arxiv)
    if not match:
        return "", ""
    yy, month = match.groups()
    century = "19" if int(yy) >= 91 else "20"
    return century + yy, month


def _authors(record: dict) -> list[Author]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list):
        return [a for a in (_parsed_author(entry) for entry in parsed) if a]
    names = re.split(r",\s*|\s+and\s+", squash_space(str(record.get("authors") or "")))
    return [_name_from_text(name) for name in names if name]


def _parsed_author(entry) -> Author | None:
    if not isinstance(entry, list) or not entry:
        return None
    last, first, suffix = ([squash_space(str(part)) for part in entry] + ["", ""])[:3]
    if not last:
        return None
    return Author(family=f"{last} {suffix}" if suffix else last, given=first)


def _name_from_text(name: str) -> Author:
    given, _, family = name.rpartition(" ")
    return Author(family=family, given=given)
