"""DataCite REST API: `/dois/{doi}` (JSON:API). arXiv's own DOIs (10.48550/arXiv.*) live here."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from citewise.bib.model import Reference, normalize_arxiv, normalize_doi
from citewise.bib.registries.http import RegistryHTTP
from citewise.bib.registries.records import Work, clean_text, organisation, person

_TYPES = {"JournalArticle": "article", "ConferencePaper": "inproceedings", "BookChapter": "incollection",
          "Book": "book", "Dissertation": "phdthesis", "Report": "techreport"}


def by_doi(http: RegistryHTTP, doi: str) -> Work | None:
    return http.fetch("datacite", f"/dois/{quote(doi, safe='')}", {}, _parse)


def _parse(status: int, body: str) -> Work | None:
    if status != 200:
        return None
    data = json.loads(body)
    try:
        attributes = data["data"]["attributes"]
    except (KeyError, TypeError):
        raise ValueError("not a DataCite record") from None
    general = (attributes.get("types") or {}).get("resourceTypeGeneral", "")
    publisher = attributes.get("publisher") or ""
    if isinstance(publisher, dict):
        publisher = publisher.get("name", "")
    doi = normalize_doi(attributes.get("doi", ""))
    container = (attributes.get("container") or {}).get("title", "")
    abstract = next((d.get("description", "") for d in attributes.get("descriptions", []) if d.get("descriptionType") == "Abstract"), "")
    entry_type = _TYPES.get(general, "misc")
    ref = Reference(
        entry_type=entry_type,
        title=clean_text((attributes.get("titles") or [{}])[0].get("title", "")),
        authors=[_creator(c) for c in attributes.get("creators", []) if isinstance(c, dict)],
        year=str(attributes.get("publicationYear") or ""),
        journal=clean_text(container) if entry_type == "article" else "",
        publisher=clean_text(publisher) if entry_type != "misc" or general != "Preprint" else "",
        doi=doi,
        arxiv=normalize_arxiv(doi.split("arxiv.", 1)[1]) if doi.startswith("10.48550/arxiv.") else "",
        abstract=clean_text(abstract),
    )
    work = Work(ref=ref, source="datacite")
    for related in attributes.get("relatedIdentifiers", []) or []:
        if related.get("relationType") == "IsPreprintOf" and related.get("relatedIdentifierType") == "DOI":
            work.published_doi = normalize_doi(related.get("relatedIdentifier", ""))
    return work


def _creator(data: dict):
    if data.get("familyName"):
        return person(data["familyName"], data.get("givenName", ""))
    name = data.get("name", "")
    if data.get("nameType") == "Personal" and "," in name:
        family, given = name.split(",", 1)
        return person(family, given)
    return organisation(re.sub(r"\s+", " ", name))
