"""The arXiv API: `/query?id_list=` and `/query?search_query=ti:"…"` (Atom).

`arxiv:doi` and `arxiv:journal_ref` tell that a preprint has been published. An unknown id
gives an empty feed; a malformed one an `api/errors` entry (both: no such work).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from citewise.bib.bibtex.names import parse_names
from citewise.bib.model import Reference, normalize_arxiv, normalize_doi
from citewise.bib.registries.http import RegistryHTTP
from citewise.bib.registries.records import Work, clean_text

_NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def by_id(http: RegistryHTTP, arxiv_id: str) -> Work | None:
    works = http.fetch("arxiv", "/query", {"id_list": arxiv_id, "max_results": "1"}, _parse_feed)
    return next((work for work in works if work.ref.arxiv == normalize_arxiv(arxiv_id)), None)


def search(http: RegistryHTTP, title: str, rows: int = 5) -> list[Work]:
    words = re.sub(r"[^\w\s-]", " ", title).split()
    if not words:
        return []
    query = "ti:\"" + " ".join(words) + "\""
    return http.fetch("arxiv", "/query", {"search_query": query, "max_results": str(rows)}, _parse_feed)


def _parse_feed(status: int, body: str) -> list[Work]:
    try:
        root = ElementTree.fromstring(body.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise ValueError(f"not an Atom feed: {error}") from None
    if root.tag != "{http://www.w3.org/2005/Atom}feed":
        raise ValueError("not an Atom feed")
    works = []
    for entry in root.findall("atom:entry", _NS):
        entry_id = entry.findtext("atom:id", "", _NS)
        if "/api/errors" in entry_id:
            continue
        works.append(_work(entry, entry_id))
    return works


def _work(entry, entry_id: str) -> Work:
    arxiv_id = normalize_arxiv(entry_id.rsplit("/abs/", 1)[-1])
    published = entry.findtext("atom:published", "", _NS)
    category = entry.find("arxiv:primary_category", _NS)
    ref = Reference(
        entry_type="misc",
        title=clean_text(entry.findtext("atom:title", "", _NS)),
        authors=[a for author in entry.findall("atom:author", _NS) for a in parse_names(clean_text(author.findtext("atom:name", "", _NS)))[:1]],
        year=published[:4],
        date=published[:10],
        arxiv=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        abstract=clean_text(entry.findtext("atom:summary", "", _NS)),
    )
    if category is not None and category.get("term"):
        ref.extra_fields["primaryclass"] = category.get("term")
    doi = normalize_doi(entry.findtext("arxiv:doi", "", _NS))
    journal_ref = clean_text(entry.findtext("arxiv:journal_ref", "", _NS))
    return Work(ref=ref, source="arxiv", published_doi=doi if doi and not doi.startswith("10.48550/") else "", journal_ref=journal_ref)
