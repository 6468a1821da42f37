"""OpenAlex: `/works/doi:{doi}` (JSON). A second opinion on retraction (`is_retracted`) and on the
published version of a preprint (a `publishedVersion` location with another DOI)."""

from __future__ import annotations

import json

from citewise.bib.bibtex.names import parse_names
from citewise.bib.model import Reference, normalize_doi
from citewise.bib.registries.http import RegistryHTTP
from citewise.bib.registries.records import Work, clean_text

_TYPES = {"article": "article", "book-chapter": "incollection", "book": "book", "dissertation": "phdthesis",
          "report": "techreport", "conference-paper": "inproceedings"}


def by_doi(http: RegistryHTTP, doi: str) -> Work | None:
    return http.fetch("openalex", f"/works/doi:{doi}", {}, _parse)


def _parse(status: int, body: str) -> Work | None:
    if status != 200:
        return None
    data = json.loads(body)
    if not isinstance(data, dict) or not data.get("id"):
        raise ValueError("not an OpenAlex work")
    doi = normalize_doi(data.get("doi") or "")
    entry_type = _TYPES.get(data.get("type", ""), "misc")
    location = data.get("primary_location") or {}
    venue = ((location.get("source") or {}).get("display_name") or location.get("raw_source_name") or "")
    biblio = data.get("biblio") or {}
    pages = "-".join(p for p in (biblio.get("first_page"), biblio.get("last_page")) if p)
    ref = Reference(
        entry_type=entry_type,
        title=clean_text(data.get("title") or data.get("display_name") or ""),
        authors=[author for item in data.get("authorships", []) for author in parse_names((item.get("author") or {}).get("display_name") or "")[:1]],
        year=str(data.get("publication_year") or ""),
        journal=clean_text(venue) if entry_type == "article" else "",
        booktitle=clean_text(venue) if entry_type in ("inproceedings", "incollection") else "",
        volume=str(biblio.get("volume") or ""),
        number=str(biblio.get("issue") or ""),
        pages=pages,
        doi=doi,
        abstract=_abstract(data.get("abstract_inverted_index")),
    )
    work = Work(ref=ref, source="openalex", retracted_by="retracted (OpenAlex)" if data.get("is_retracted") else "")
    if data.get("type") == "preprint":
        for other in data.get("locations", []) or []:
            url = normalize_doi(other.get("landing_page_url") or "")
            if other.get("version") == "publishedVersion" and url.startswith("10.") and url != doi:
                work.published_doi = url
    return work


def _abstract(inverted) -> str:
    if not isinstance(inverted, dict):
        return ""
    words = sorted((position, word) for word, positions in inverted.items() for position in positions)
    return clean_text(" ".join(word for _, word in words))
