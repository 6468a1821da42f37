"""Adding cited papers to the Zotero library, never twice.

Before creating an item, the library is searched for the same paper: by DOI, by arXiv id, then by
title words with a fuzzy title + first author + year comparison. New items go in batches of at most
50, each with one write token kept across retries (the server refuses a token it has already
seen) and `If-Unmodified-Since-Version`. On 412 the library is searched again: items that did land
are taken as they are, the rest are sent once more; a second 412 is an error.
"""

from __future__ import annotations

import re
import uuid

import pyzotero
from rapidfuzz import fuzz

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Author, Reference, normalize_arxiv, normalize_doi, normalize_title
from citewise.bib.readers.zotero_json import reference_from_zotero_item
from citewise.bib.zotero.client import ZoteroConnection, ZoteroSettings

WRITE_BATCH = 50
TITLE_MATCH = 90
SEARCH_WORDS = 6
_COLLECTION_KEY = re.compile(r"^[23456789A-Z]{8}$")

_ITEM_TYPES = {
    "article": "journalArticle",
    "inproceedings": "conferencePaper",
    "conference": "conferencePaper",
    "book": "book",
    "incollection": "bookSection",
    "inbook": "bookSection",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "techreport": "report",
    "report": "report",
}
_VENUE_FIELD = {
    "journalArticle": "publicationTitle",
    "conferencePaper": "proceedingsTitle",
    "bookSection": "bookTitle",
}
_HAS_DOI = {"journalArticle", "conferencePaper", "preprint"}
_HAS_PAGES = {"journalArticle", "conferencePaper", "bookSection", "report"}
_HAS_VOLUME = {"journalArticle", "book", "bookSection", "conferencePaper"}
_HAS_PUBLISHER = {"book", "bookSection", "conferencePaper", "document", "thesis", "report"}


def push_reference(settings: ZoteroSettings, ref: Reference) -> str:
    """The Zotero key of `ref` in the library: an existing item's, or a newly created one's."""
    return push_references(settings, [ref])[0]


def push_references(settings: ZoteroSettings, refs: list[Reference]) -> list[str]:
    """Zotero keys for `refs`, in order, creating only the papers the library lacks."""
    if settings.local:
        raise CitewiseError(
            "the Zotero desktop app's local API is read-only here: push needs a web library "
            "(--library users/N with an API key that may write)"
        )
    with ZoteroConnection(settings) as connection:
        collection = _resolve_collection(connection, settings.collection)
        keys: list[str | None] = [find_in_library(connection, ref) for ref in refs]
        missing = [i for i, key in enumerate(keys) if key is None]
        for start in range(0, len(missing), WRITE_BATCH):
            batch = missing[start:start + WRITE_BATCH]
            created = _create_batch(connection, [refs[i] for i in batch], collection)
            for position, key in zip(batch, created):
                keys[position] = key
        return [key for key in keys if key is not None]


def find_in_library(connection: ZoteroConnection, ref: Reference) -> str | None:
    """The key of the library item that is the same paper as `ref`, if there is one."""
    doi = normalize_doi(ref.doi)
    if doi:
        for data in _search(connection, doi, "everything"):
            if doi in (normalize_doi(data.get("DOI", "")), _extra_doi(data)):
                return data["key"]
    arxiv = normalize_arxiv(ref.arxiv)
    if arxiv:
        for data in _search(connection, arxiv, "everything"):
            if arxiv in _arxiv_ids(data):
                return data["key"]
    words = normalize_title(ref.title).split()
    if words:
        for data in _search(connection, " ".join(words[:SEARCH_WORDS]), "titleCreatorYear"):
            if _same_paper(ref, data):
                return data["key"]
    return None


def _search(connection: ZoteroConnection, q: str, qmode: str) -> list[dict]:
    objects = connection.call(lambda z: z.top(q=q, qmode=qmode, limit=25))
    return [obj["data"] for obj in objects]


def _extra_doi(data: dict) -> str:
    match = re.search(r"^\s*DOI:\s*(\S+)", data.get("extra") or "", re.IGNORECASE | re.MULTILINE)
    return normalize_doi(match.group(1)) if match else ""


def _arxiv_ids(data: dict) -> set[str]:
    texts = [data.get("archiveID", ""), data.get("url", ""), data.get("extra", ""), data.get("DOI", "")]
    found = {normalize_arxiv(text) for text in texts if text}
    doi = normalize_doi(data.get("DOI", ""))
    if doi.startswith("10.48550/arxiv."):
        found.add(doi.removeprefix("10.48550/arxiv."))
    return found - {""}


def _same_paper(ref: Reference, data: dict) -> bool:
    other = reference_from_zotero_item(data)
    if other is None:
        return False
    if _differ(normalize_doi(ref.doi), normalize_doi(other.doi)):
        return False
    if _differ(normalize_arxiv(ref.arxiv), normalize_arxiv(other.arxiv)):
        return False
    if fuzz.token_sort_ratio(normalize_title(ref.title), normalize_title(other.title)) < TITLE_MATCH:
        return False
    if ref.authors and other.authors and _family(ref.authors[0]) != _family(other.authors[0]):
        return False
    return not (ref.year and other.year and ref.year != other.year)


def _differ(mine: str, theirs: str) -> bool:
    return bool(mine and theirs and mine != theirs)


def _family(author: Author) -> str:
    """The last word of the family name: Zotero records often hold a whole name there."""
    words = normalize_title(author.family).split()
    return words[-1] if words else ""


def _resolve_collection(connection: ZoteroConnection, wanted: str | None) -> str | None:
    """The key of the target collection, given its key or its name."""
    if not wanted:
        return None
    collections = connection.call(lambda z: z.everything(z.collections(limit=100)))
    for collection in collections:
        data = collection["data"]
        if wanted in (data["key"], data["name"]) or (
            not _COLLECTION_KEY.match(wanted) and data["name"].casefold() == wanted.casefold()
        ):
            return data["key"]
    raise CitewiseError(f"Zotero collection {wanted!r} not found in {connection.where}")


def _create_batch(connection: ZoteroConnection, refs: list[Reference], collection: str | None) -> list[str]:
    payload = [zotero_item_from_reference(ref, collection) for ref in refs]
    try:
        return _write(connection, payload, refs)
    except pyzotero.PreConditionFailedError:
        pass
    found = [find_in_library(connection, ref) for ref in refs]
    still_missing = [i for i, key in enumerate(found) if key is None]
    if still_missing:
        try:
            created = _write(connection, [payload[i] for i in still_missing], [refs[i] for i in still_missing])
        except pyzotero.PreConditionFailedError:
            raise CitewiseError(
                f"Zotero library {connection.where} kept changing during the write (412 twice); try again"
            ) from None
        for position, key in zip(still_missing, created):
            found[position] = key
    return [key for key in found if key is not None]


def _write(connection: ZoteroConnection, payload: list[dict], refs: list[Reference]) -> list[str]:
    token = uuid.uuid4().hex
    version = connection.last_version or None
    answer = connection.call(lambda z: z.create_items_with_token(payload, token, version))
    keys = []
    for position, ref in enumerate(refs):
        slot = str(position)
        if slot in answer.get("success", {}):
            keys.append(answer["success"][slot])
        elif slot in answer.get("unchanged", {}):
            keys.append(answer["unchanged"][slot])
        else:
            failure = answer.get("failed", {}).get(slot, {})
            raise CitewiseError(
                f"Zotero did not create {ref.key or ref.title!r}: "
                f"{failure.get('message', 'no reason given')} ({failure.get('code', '?')})"
            )
    return keys


def zotero_item_from_reference(ref: Reference, collection: str | None = None) -> dict:
    """Zotero item data for a new item; the citation key pinned in Extra as Better BibTeX does."""
    item_type = _ITEM_TYPES.get(ref.entry_type.lower())
    if item_type is None:
        item_type = "preprint" if ref.arxiv else "document"
    data: dict = {
        "itemType": item_type,
        "title": ref.title,
        "creators": [_creator(a, "author") for a in ref.authors] + [_creator(a, "editor") for a in ref.editors],
        "date": ref.date or ref.year,
        "url": ref.url,
        "abstractNote": ref.abstract,
        "tags": [{"tag": keyword} for keyword in ref.keywords],
        "collections": [collection] if collection else [],
    }
    extra = [f"Citation Key: {ref.key}"] if ref.key else []
    if item_type in _VENUE_FIELD and ref.venue:
        data[_VENUE_FIELD[item_type]] = ref.journal or ref.booktitle
    if item_type in _HAS_VOLUME and ref.volume:
        data["volume"] = ref.volume
    if item_type == "journalArticle" and ref.number:
        data["issue"] = ref.number
    if item_type in _HAS_PAGES and ref.pages:
        data["pages"] = ref.pages
    if item_type in _HAS_PUBLISHER and ref.publisher:
        data["publisher"] = ref.publisher
    if item_type == "thesis" and ref.institution:
        data["university"] = ref.institution
    if item_type == "report" and ref.institution:
        data["institution"] = ref.institution
    if item_type == "preprint":
        data["repository"] = "arXiv"
        data["archiveID"] = f"arXiv:{ref.arxiv}"
    elif ref.arxiv:
        extra.append(f"arXiv: {ref.arxiv}")
    if ref.doi:
        if item_type in _HAS_DOI:
            data["DOI"] = ref.doi
        else:
            extra.append(f"DOI: {ref.doi}")
    data["extra"] = "\n".join(extra)
    return {name: value for name, value in data.items() if value or name in ("title", "creators")}


def _creator(author: Author, role: str) -> dict:
    if author.literal or not author.given:
        return {"creatorType": role, "name": author.family}
    return {"creatorType": role, "firstName": author.given, "lastName": author.family}
