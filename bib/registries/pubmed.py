"""PubMed through NCBI E-utilities: `esummary.fcgi?db=pubmed&id=…` (eSummaryResult XML).

PubMed marks retracted papers with the publication type "Retracted Publication"."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from citewise.bib.model import Author, Reference, normalize_doi
from citewise.bib.registries.http import RegistryHTTP
from citewise.bib.registries.records import Work, clean_text


def by_pmid(http: RegistryHTTP, pmid: str) -> Work | None:
    return http.fetch("pubmed", "/esummary.fcgi", {"db": "pubmed", "id": pmid}, lambda status, body: _parse(status, body, pmid))


def _parse(status: int, body: str, pmid: str) -> Work | None:
    if status != 200:
        return None
    try:
        root = ElementTree.fromstring(body.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise ValueError(f"not an eSummaryResult: {error}") from None
    if root.tag != "eSummaryResult":
        raise ValueError("not an eSummaryResult")
    for summary in root.findall("DocSum"):
        if summary.findtext("Id", "") == pmid:
            return _work(summary, pmid)
    return None


def _work(summary, pmid: str) -> Work:
    items = {item.get("Name"): item for item in summary.findall("Item")}

    def text(name: str) -> str:
        item = items.get(name)
        return clean_text(item.text or "") if item is not None else ""

    def listed(name: str) -> list[tuple[str, str]]:
        item = items.get(name)
        return [(child.get("Name", ""), (child.text or "").strip()) for child in item.findall("Item")] if item is not None else []

    year = re.search(r"\d{4}", text("PubDate"))
    doi = next((value for name, value in listed("ArticleIds") if name == "doi"), "")
    ref = Reference(
        entry_type="article",
        title=text("Title").rstrip("."),
        authors=[_author(value) for name, value in listed("AuthorList") if name == "Author"],
        year=year.group() if year else "",
        journal=text("FullJournalName") or text("Source"),
        volume=text("Volume"),
        number=text("Issue"),
        pages=text("Pages"),
        doi=normalize_doi(doi),
        extra_fields={"pmid": pmid},
    )
    retracted = any(value == "Retracted Publication" for _, value in listed("PubTypeList"))
    return Work(ref=ref, source="pubmed", retracted_by="Retracted Publication (PubMed)" if retracted else "")


def _author(value: str) -> Author:
    """`LoPresti PJ` -> LoPresti, P. J.; `Hambrick GW Jr` keeps the suffix with the family name."""
    parts = value.split()
    suffix = [p for p in parts[1:] if p in ("Jr", "Sr", "II", "III", "IV")]
    parts = [p for p in parts if p not in suffix]
    if len(parts) >= 2 and parts[-1].isupper() and len(parts[-1]) <= 3:
        family = " ".join(parts[:-1] + suffix)
        return Author(family=family, given=" ".join(f"{letter}." for letter in parts[-1]))
    return Author(family=value, literal=True)
