"""Open Library: `/api/books?bibkeys=ISBN:…&jscmd=data&format=json` for books by ISBN."""

from __future__ import annotations

import json
import re

from citewise.bib.bibtex.names import parse_names
from citewise.bib.model import Reference
from citewise.bib.registries.http import RegistryHTTP
from citewise.bib.registries.records import Work, clean_text


def by_isbn(http: RegistryHTTP, isbn: str) -> Work | None:
    params = {"bibkeys": f"ISBN:{isbn}", "jscmd": "data", "format": "json"}
    return http.fetch("openlibrary", "/api/books", params, lambda status, body: _parse(status, body, isbn))


def _parse(status: int, body: str, isbn: str) -> Work | None:
    if status != 200:
        return None
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not an Open Library answer")
    book = data.get(f"ISBN:{isbn}") or next(iter(data.values()), None)
    if not isinstance(book, dict) or not book.get("title"):
        return None
    title = clean_text(book["title"] + (f": {book['subtitle']}" if book.get("subtitle") else ""))
    year = re.search(r"\d{4}", book.get("publish_date", ""))
    ref = Reference(
        entry_type="book",
        title=title,
        authors=[a for item in book.get("authors", []) for a in parse_names(item.get("name", ""))[:1]],
        year=year.group() if year else "",
        publisher=clean_text((book.get("publishers") or [{}])[0].get("name", "")),
        url=book.get("url", ""),
        extra_fields={"isbn": isbn},
    )
    return Work(ref=ref, source="openlibrary")
