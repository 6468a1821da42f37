"""Crossref REST API: `/works/{doi}` and `/works?query.bibliographic=` (JSON).

Retraction signals, both directions: a work is retracted when its `updated-by` lists a
retraction, withdrawal or removal, or when its own `update-to` does so for its own DOI (some
publishers deposit it that way). An `update-to` aimed at another DOI makes the record the notice
itself, which says nothing about the work it describes. `relation.is-preprint-of` links a preprint to its published version.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from citewise.bib.model import Reference, normalize_doi
from citewise.bib.registries.http import RegistryHTTP
from citewise.bib.registries.records import Work, clean_text, date_of, organisation, person, year_of

RETRACTING = {"retraction", "withdrawal", "removal", "retracted", "withdrawn"}
_TYPES = {
    "journal-article": "article", "proceedings-article": "inproceedings", "book-chapter": "incollection",
    "book-part": "incollection", "book-section": "incollection", "book": "book", "monograph": "book",
    "edited-book": "book", "reference-book": "book", "dissertation": "phdthesis", "report": "techreport",
    "posted-content": "misc", "dataset": "misc", "peer-review": "misc", "component": "misc",
    "proceedings": "proceedings", "reference-entry": "inreference",
}
_IN_BOOK = {"inproceedings", "incollection"}


def by_doi(http: RegistryHTTP, doi: str) -> Work | None:
    return http.fetch("crossref", f"/works/{quote(doi, safe='')}", {}, _parse_work)


def search(http: RegistryHTTP, title: str, author: str = "", rows: int = 5) -> list[Work]:
    params = {"query.bibliographic": title, "rows": str(rows)}
    if author:
        params["query.author"] = author
    return http.fetch("crossref", "/works", params, _parse_list)


def _parse_work(status: int, body: str) -> Work | None:
    if status != 200:
        return None
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("message-type") != "work" or not isinstance(data.get("message"), dict):
        raise ValueError("not a Crossref work")
    return work_from_message(data["message"])


def _parse_list(status: int, body: str) -> list[Work]:
    if status != 200:
        return []
    data = json.loads(body)
    try:
        items = data["message"]["items"]
    except (KeyError, TypeError):
        raise ValueError("not a Crossref work list") from None
    return [work_from_message(item) for item in items if isinstance(item, dict) and item.get("DOI")]


def work_from_message(message: dict) -> Work:
    """A Work from one Crossref work object."""
    kind = message.get("type", "")
    entry_type = _TYPES.get(kind, "misc")
    container = clean_text((message.get("container-title") or [""])[0])
    doi = normalize_doi(message.get("DOI", ""))
    issued = message.get("issued") or message.get("published") or message.get("published-print") or message.get("published-online") or {}
    ref = Reference(
        entry_type=entry_type,
        title=clean_text((message.get("title") or [""])[0]),
        authors=[_contributor(c) for c in message.get("author", []) if isinstance(c, dict)],
        editors=[_contributor(c) for c in message.get("editor", []) if isinstance(c, dict)],
        year=year_of(issued),
        date=date_of(issued),
        journal=container if entry_type not in _IN_BOOK else "",
        booktitle=container if entry_type in _IN_BOOK else "",
        volume=str(message.get("volume", "")),
        number=str(message.get("issue", "")),
        pages=str(message.get("page", "")),
        publisher=clean_text(message.get("publisher", "")) if entry_type in ("book", "incollection", "phdthesis", "techreport", "inproceedings") else "",
        institution=clean_text((message.get("institution") or [{}])[0].get("name", "")) if entry_type == "phdthesis" else "",
        doi=doi,
        abstract=clean_text(message.get("abstract", "")),
    )
    if message.get("ISBN"):
        ref.extra_fields["isbn"] = message["ISBN"][0]
    work = Work(ref=ref, source="crossref")
    for update in message.get("updated-by", []) or []:
        if isinstance(update, dict) and update.get("type", "").lower() in RETRACTING:
            work.retracted_by = normalize_doi(update.get("DOI", "")) or update.get("label", "retracted")
    for update in message.get("update-to", []) or []:
        if isinstance(update, dict) and update.get("type", "").lower() in RETRACTING and normalize_doi(update.get("DOI", "")) == doi:
            work.retracted_by = work.retracted_by or update.get("label", "retracted")
    work.cites = [normalize_doi(cited["DOI"]) for cited in message.get("reference", []) or []
                  if isinstance(cited, dict) and isinstance(cited.get("DOI"), str) and normalize_doi(cited["DOI"])]
    relation = message.get("relation") or {}
    for link in relation.get("is-preprint-of", []) if isinstance(relation, dict) else []:
        if isinstance(link, dict) and link.get("id-type") == "doi":
            work.published_doi = normalize_doi(link.get("id", ""))
    return work


def _contributor(data: dict):
    if data.get("family"):
        return person(data["family"], data.get("given", ""))
    return organisation(data.get("name", ""))
