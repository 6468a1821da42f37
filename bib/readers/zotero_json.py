"""Zotero items as references: the Web API `format=json` shape and Better BibTeX's JSON export.

`reference_from_zotero_item` maps one item's fields (the `data` object of a Web API item,
or a BBT export item, or a row set read from zotero.sqlite) to a Reference. The mapping
tables below cover the common Zotero item types; other types become `misc` with their
title, creators, date, DOI and URL kept.

Citation key, in order: the native `citationKey` field (Zotero 8+), a `Citation Key: …`
line in Extra (how Better BibTeX pins keys), else the key formula.
"""

from __future__ import annotations

import json
import re

from citewise.bib.errors import SourceError
from citewise.bib.keys import make_key
from citewise.bib.model import Author, Origin, Reference, normalize_arxiv, normalize_doi
from citewise.bib.readers.source import (
    iso_date,
    json_array_items,
    json_member_offset,
    line_at,
    squash_space,
    usable_key,
    year_in,
)

NOT_REFERENCES = {"note", "attachment", "annotation"}

ITEM_TYPE_TO_BIBTEX = {
    "journalArticle": "article",
    "magazineArticle": "article",
    "newspaperArticle": "article",
    "conferencePaper": "inproceedings",
    "book": "book",
    "bookSection": "incollection",
    "encyclopediaArticle": "inreference",
    "dictionaryEntry": "incollection",
    "thesis": "phdthesis",
    "report": "techreport",
    "manuscript": "unpublished",
}
"""Zotero item types with a BibTeX counterpart (as Better BibTeX maps them); the rest are `misc`."""

BOOKTITLE_TYPES = {"inproceedings", "incollection"}
INSTITUTION_TYPES = {"phdthesis", "mastersthesis", "techreport"}

# Zotero names a field per item type (bookTitle, university…); Better BibTeX's JSON export
# uses the base field instead (publicationTitle, publisher…). Either is accepted.
TITLE_FIELDS = ("title", "caseName", "subject", "nameOfAct")
CONTAINER_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "encyclopediaTitle", "dictionaryTitle")
PUBLISHER_FIELDS = (
    "publisher", "university", "institution", "repository", "label", "company", "distributor", "studio", "network",
)
NUMBER_FIELDS = ("issue", "number", "reportNumber", "patentNumber", "billNumber", "episodeNumber")
PAGES_FIELDS = ("pages", "firstPage")
DATE_FIELDS = ("date", "dateDecided", "issueDate", "dateEnacted")
EXTRA_BIBTEX_FIELDS = {
    "series": "series",
    "edition": "edition",
    "place": "address",
    "ISBN": "isbn",
    "ISSN": "issn",
}
"""Zotero fields kept under their BibTeX names in `Reference.extra_fields`."""

PRIMARY_CREATOR = {
    "artwork": "artist",
    "audioRecording": "performer",
    "bill": "sponsor",
    "computerProgram": "programmer",
    "film": "director",
    "interview": "interviewee",
    "map": "cartographer",
    "patent": "inventor",
    "podcast": "podcaster",
    "presentation": "presenter",
    "radioBroadcast": "creator",
    "tvBroadcast": "director",
    "videoRecording": "creator",
}
"""Item types whose authors are not called `author` in Zotero."""

_EXTRA_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z .-]*?)\s*:\s*(.+?)\s*$", re.MULTILINE)


def reference_from_zotero_item(data: dict) -> Reference | None:
    """A reference for a Zotero item's data, keyed; None for notes, attachments and annotations.

    Its origin is `zotero` (no line); callers that know the library or file replace it.
    """
    ref = reference_without_generated_key(data)
    if ref is None:
        return None
    ref.key = ref.key or make_key(ref)
    ref.origin = Origin("zotero")
    return ref


def reference_without_generated_key(data: dict) -> Reference | None:
    """Like `reference_from_zotero_item`, but `key` stays "" when Zotero stores none.

    Readers use this so they can make generated keys unique across everything they read.
    """
    item_type = _text(data.get("itemType"))
    if item_type in NOT_REFERENCES:
        return None
    extra = _extra_fields(data.get("extra"))
    ref = Reference(
        key=usable_key(_text(data.get("citationKey"))) or usable_key(extra.get("citation key", "")),
        entry_type=_entry_type(item_type, _text(data.get("thesisType"))),
        title=squash_space(_first(data, TITLE_FIELDS)),
        volume=_text(data.get("volume")),
        number=_first(data, NUMBER_FIELDS),
        pages=_first(data, PAGES_FIELDS).replace("–", "-").replace("—", "-"),
        doi=normalize_doi(_text(data.get("DOI")) or extra.get("doi", "")),
        url=_text(data.get("url")),
        abstract=_text(data.get("abstractNote")),
        keywords=_tags(data.get("tags")),
        extra_fields={bib: _text(data[z]) for z, bib in EXTRA_BIBTEX_FIELDS.items() if _text(data.get(z))},
        zotero_key=_text(data.get("key")) or _text(data.get("itemKey")),
    )
    container, publisher = _first(data, CONTAINER_FIELDS), _first(data, PUBLISHER_FIELDS)
    if ref.entry_type in BOOKTITLE_TYPES:
        ref.booktitle = container
    else:
        ref.journal = container
    if ref.entry_type in INSTITUTION_TYPES:
        ref.institution = publisher
    else:
        ref.publisher = publisher
    date = _first(data, DATE_FIELDS)
    ref.year, ref.date = year_in(date), iso_date(date)
    ref.authors, ref.editors = _creators(data.get("creators"), PRIMARY_CREATOR.get(item_type, "author"))
    ref.arxiv = _arxiv(data, extra, ref)
    return ref


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _first(data: dict, names: tuple[str, ...]) -> str:
    for name in names:
        value = _text(data.get(name))
        if value:
            return value
    return ""


def _entry_type(item_type: str, thesis_type: str) -> str:
    if item_type == "thesis" and re.search(r"master|m\.?\s?sc|m\.?a\b", thesis_type, re.IGNORECASE):
        return "mastersthesis"
    return ITEM_TYPE_TO_BIBTEX.get(item_type, "misc")


def _extra_fields(extra) -> dict[str, str]:
    """`Name: value` lines of the Extra field, names lowercased (BBT exports it as a list of lines)."""
    if isinstance(extra, list):
        extra = "\n".join(_text(line) for line in extra)
    fields: dict[str, str] = {}
    for name, value in _EXTRA_LINE.findall(_text(extra)):
        fields.setdefault(name.strip().lower(), value)
    return fields


def _creators(creators, primary: str) -> tuple[list[Author], list[Author]]:
    """(authors, editors): creators of the item type's primary role, and editors."""
    authors: list[Author] = []
    editors: list[Author] = []
    for creator in creators if isinstance(creators, list) else []:
        if not isinstance(creator, dict):
            continue
        person = _person(creator)
        role = creator.get("creatorType", "author")
        if person is None:
            continue
        if role == primary:
            authors.append(person)
        elif role == "editor":
            editors.append(person)
    return authors, editors


def _person(creator: dict) -> Author | None:
    if _text(creator.get("name")):
        return Author(family=_text(creator["name"]), literal=True)
    family, given = _text(creator.get("lastName")), _text(creator.get("firstName"))
    if family:
        return Author(family=family, given=given)
    if given:
        return Author(family=given)
    return None


def _tags(tags) -> list[str]:
    names = []
    for tag in tags if isinstance(tags, list) else []:
        name = _text(tag.get("tag")) if isinstance(tag, dict) else _text(tag)
        if name:
            names.append(name)
    return names


def _arxiv(data: dict, extra: dict[str, str], ref: Reference) -> str:
    """An arXiv id from archiveID, an `arXiv:` Extra line, the URL, an arXiv DOI or journal."""
    candidates = (
        _text(data.get("archiveID")),
        extra.get("arxiv", ""),
        ref.url if "arxiv.org" in ref.url.lower() else "",
        ref.doi.removeprefix("10.48550/arxiv.") if ref.doi.startswith("10.48550/arxiv.") else "",
        ref.journal if ref.journal.lower().startswith("arxiv:") else "",
    )
    for candidate in candidates:
        found = normalize_arxiv(candidate) if candidate else ""
        if found:
            return found
    return ""


def read_zotero_json(path: str, text: str) -> tuple[list[Reference], list[SourceError]]:
    """References of a Web API item list (or single item) or a Better BibTeX JSON export.

    Keys Zotero does not store are left "" for the caller to generate.
    """
    start = len(text) - len(text.lstrip())
    try:
        items = list(_items_with_lines(text, start))
    except json.JSONDecodeError as error:
        return [], [SourceError(path, error.lineno, f"malformed JSON: {error.msg}")]
    references: list[Reference] = []
    errors: list[SourceError] = []
    for line, item in items:
        data = item.get("data", item) if isinstance(item, dict) else None
        if not isinstance(data, dict) or "itemType" not in data:
            errors.append(SourceError(path, line, "not a Zotero item (no itemType)"))
            continue
        ref = reference_without_generated_key(data)
        if ref is not None:
            ref.date = ref.date or _parsed_date(item)
            ref.origin = Origin(path, line)
            references.append(ref)
    return references, errors


def _parsed_date(item: dict) -> str:
    """The ISO date the Web API adds beside an item (`meta.parsedDate`) for dates like "May 01, 1980"."""
    meta = item.get("meta")
    return iso_date(_text(meta.get("parsedDate"))) if isinstance(meta, dict) else ""


def _items_with_lines(text: str, start: int):
    """(line, item) for a JSON array of items, a BBT export's `items`, or one item object."""
    if text[start : start + 1] == "[":
        yield from json_array_items(text, start)
        return
    document = json.loads(text)
    items_at = json_member_offset(text, start, "items") if isinstance(document, dict) else None
    if items_at is not None:
        yield from json_array_items(text, items_at)
    else:
        yield line_at(text, start), document
