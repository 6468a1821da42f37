"""Reader for CSL-JSON, the bibliography format of Zotero, Pandoc and Better BibTeX exports.

A file is an array of CSL items (a single item object is accepted too). The item's
`citation-key`, else its `id` when that is a usable citation key, becomes the key.
"""

from __future__ import annotations

import json

from citewise.bib.errors import SourceError
from citewise.bib.model import Author, Origin, Reference, normalize_arxiv, normalize_doi
from citewise.bib.readers.source import iso_date, json_array_items, line_at, squash_space, usable_key, year_in

CSL_TO_BIBTEX = {
    "article-journal": "article",
    "article-magazine": "article",
    "article-newspaper": "article",
    "review": "article",
    "paper-conference": "inproceedings",
    "book": "book",
    "chapter": "incollection",
    "entry-encyclopedia": "incollection",
    "entry-dictionary": "incollection",
    "thesis": "phdthesis",
    "report": "techreport",
    "manuscript": "unpublished",
}
"""CSL item types with a BibTeX counterpart; every other type (webpage, article, dataset…) is `misc`."""

CONTAINER_IS_BOOKTITLE = {"paper-conference", "chapter", "entry-encyclopedia", "entry-dictionary"}
PUBLISHER_IS_INSTITUTION = {"thesis", "report"}


def read_csl_json(path: str, text: str) -> tuple[list[Reference], list[SourceError]]:
    """References of a CSL-JSON file; malformed JSON is reported at its line."""
    start = len(text) - len(text.lstrip())
    try:
        if text[start : start + 1] == "{":
            items = [(line_at(text, start), json.loads(text))]
        else:
            items = list(json_array_items(text, start))
    except RecursionError:
        return [], [SourceError(path, line_at(text, start), "JSON nested too deeply to read")]
    except json.JSONDecodeError as error:
        return [], [SourceError(path, error.lineno, f"malformed JSON: {error.msg}")]
    references: list[Reference] = []
    errors: list[SourceError] = []
    for line, item in items:
        if not isinstance(item, dict):
            errors.append(SourceError(path, line, "CSL item is not a JSON object"))
            continue
        ref = reference_from_csl_item(item)
        ref.origin = Origin(path, line)
        references.append(ref)
    return references, errors


def reference_from_csl_item(item: dict) -> Reference:
    """A reference from one CSL item; `key` stays "" when the item has no usable key."""
    csl_type = _text(item.get("type"))
    container = _text(item.get("container-title"))
    publisher = _text(item.get("publisher"))
    ref = Reference(
        key=usable_key(_text(item.get("citation-key"))) or usable_key(_text(item.get("id"))),
        entry_type=CSL_TO_BIBTEX.get(csl_type, "misc"),
        title=squash_space(_text(item.get("title"))),
        authors=_names(item.get("author")),
        editors=_names(item.get("editor")),
        volume=_text(item.get("volume")),
        number=_text(item.get("issue")) or _text(item.get("number")),
        pages=_text(item.get("page")).replace("–", "-").replace("—", "-"),
        doi=normalize_doi(_text(item.get("DOI"))),
        url=_text(item.get("URL")),
        abstract=squash_space(_text(item.get("abstract"))),
        keywords=_keywords(item.get("keyword")),
    )
    ref.year, ref.date = _issued(item.get("issued"))
    if csl_type in CONTAINER_IS_BOOKTITLE:
        ref.booktitle = container
    else:
        ref.journal = container
    if csl_type in PUBLISHER_IS_INSTITUTION:
        ref.institution = publisher
    else:
        ref.publisher = publisher
    ref.arxiv = _arxiv(item, ref)
    return ref


def _text(value) -> str:
    """A field's text: a string or number, or the items of a (nested) list joined; objects have none."""
    parts: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(reversed(item))
        elif item is not None and not isinstance(item, dict):
            parts.append(str(item).strip())
    return ", ".join(parts)


def _names(value) -> list[Author]:
    if not isinstance(value, list):
        return []
    authors = []
    for name in value:
        if not isinstance(name, dict):
            continue
        family = " ".join(
            _text(name.get(part)) for part in ("dropping-particle", "non-dropping-particle", "family") if name.get(part)
        )
        given = _text(name.get("given"))
        if family:
            if name.get("suffix"):
                family = f"{family} {_text(name.get('suffix'))}"
            authors.append(Author(family=family, given=given))
        elif name.get("literal"):
            authors.append(Author(family=_text(name["literal"]), literal=True))
        elif given:
            authors.append(Author(family=given))
    return authors


def _issued(value) -> tuple[str, str]:
    """(year, ISO date) from a CSL date: `date-parts`, else `raw` or `literal` text."""
    if not isinstance(value, dict):
        return "", ""
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        numbers = [str(p).strip() for p in parts[0][:3]]
        if numbers[0].isdigit():
            return numbers[0], iso_date("-".join(numbers))
        value = {"raw": numbers[0]}
    raw = _text(value.get("raw") or value.get("literal"))
    return year_in(raw), iso_date(raw)


def _keywords(value) -> list[str]:
    if isinstance(value, list):
        return [k for k in (_text(v) for v in value) if k]
    return [k.strip() for k in _text(value).split(",") if k.strip()]


def _arxiv(item: dict, ref: Reference) -> str:
    """An arXiv id from the URL, an arXiv DOI, or an `arXiv:` number/note."""
    for candidate in (ref.url, _text(item.get("number")), _text(item.get("note"))):
        if "arxiv" in candidate.lower():
            found = normalize_arxiv(candidate)
            if found:
                return found
    if ref.doi.startswith("10.48550/arxiv."):
        return normalize_arxiv(ref.doi.removeprefix("10.48550/arxiv."))
    if _text(item.get("publisher")).lower() == "arxiv":
        return normalize_arxiv(_text(item.get("number")))
    return ""
