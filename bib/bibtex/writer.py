"""Writing references as .bib entries a careful author would have typed.

`format_entry(ref, "bibtex")` gives classic BibTeX: Unicode turned into LaTeX escapes,
`year` + `month`, `journal`, arXiv preprints as `@misc` with `eprint`/`archivePrefix`/
`primaryClass`. `format_entry(ref, "biblatex")` keeps UTF-8 and uses `date`, `journaltitle`,
`eprinttype`, `@thesis`/`@report`/`@online`. Fields always come in the same order, names
as `Family, Given and …`, and title words that must stay capital are protected with braces.
Text that is already LaTeX (`15\\%`, `$O(n^2)$`) is written as it is (see latex.py).
"""

from __future__ import annotations

import re

from citewise.bib.bibtex.latex import MATH_SPAN, escape_specials, unicode_to_latex
from citewise.bib.bibtex.names import format_names
from citewise.bib.model import Reference

BIBTEX_TYPES = {
    "article", "book", "booklet", "inbook", "incollection", "inproceedings", "conference", "manual",
    "mastersthesis", "misc", "phdthesis", "proceedings", "techreport", "unpublished",
}
_BIBLATEX_ONLY_TYPES = {"inreference": "article", "online": "misc", "report": "techreport", "thesis": "phdthesis"}
"""Types the reference model may carry from BibLaTeX or Zotero, and their classic BibTeX type."""
_BIBLATEX_TYPES = {
    "phdthesis": ("thesis", "phdthesis"),
    "mastersthesis": ("thesis", "mathesis"),
    "techreport": ("report", "techreport"),
    "conference": ("inproceedings", ""),
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

FIELD_ORDER = [
    "author", "editor", "title", "journal", "journaltitle", "booktitle", "year", "month", "date", "volume",
    "number", "pages", "edition", "series", "publisher", "institution", "school", "organization", "address",
    "location", "type", "isbn", "issn", "doi", "eprint", "archiveprefix", "eprinttype", "primaryclass",
    "eprintclass", "url", "abstract", "keywords",
]
"""The order fields are written in; fields not listed follow in alphabetical order."""

_RAW_FIELDS = {"url", "doi", "eprint", "file", "urldate"}
_DISPLAY_NAMES = {"archiveprefix": "archivePrefix", "primaryclass": "primaryClass"}


def format_entry(ref: Reference, flavour: str = "bibtex") -> str:
    """The entry for `ref`, ending in a newline, in the `bibtex` or `biblatex` flavour."""
    if flavour not in ("bibtex", "biblatex"):
        raise ValueError(f"unknown flavour {flavour!r}: use 'bibtex' or 'biblatex'")
    biblatex = flavour == "biblatex"
    entry_type, fields = _fields(ref, biblatex)
    to_text = escape_specials if biblatex else unicode_to_latex
    lines = [f"@{entry_type}{{{ref.key},"]
    for name in _ordered(fields):
        value = fields[name]
        lines.append(f"  {_DISPLAY_NAMES.get(name, name)} = {_value(name, value, to_text)},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n}\n"


def _fields(ref: Reference, biblatex: bool) -> tuple[str, dict[str, str]]:
    """(entry type, field name -> plain Unicode value) before escaping."""
    entry_type = ref.entry_type.lower()
    fields: dict[str, str] = {name.lower(): value for name, value in ref.extra_fields.items() if value}
    journal, booktitle = ref.journal, ref.booktitle
    if entry_type == "inreference":
        journal, booktitle = ("", journal or booktitle) if biblatex else (journal or booktitle, "")
    elif entry_type not in BIBTEX_TYPES:
        entry_type = _BIBLATEX_ONLY_TYPES.get(entry_type, "misc")
    is_preprint = bool(ref.arxiv) and (not journal or journal.lower().startswith("arxiv")) and entry_type in ("misc", "article", "unpublished")
    if is_preprint:
        entry_type, journal = "misc", ""
    fields.update({"author": ref.authors, "editor": ref.editors, "title": ref.title, "volume": ref.volume,
                   "number": ref.number, "pages": _pages(ref.pages), "publisher": ref.publisher,
                   "doi": ref.doi, "url": ref.url, "abstract": ref.abstract, "keywords": ", ".join(ref.keywords)})
    fields["booktitle"] = booktitle
    institution_field = "school" if entry_type in ("phdthesis", "mastersthesis") else "institution"
    fields[institution_field] = ref.institution
    if ref.arxiv:
        fields["eprint"] = ref.arxiv
    if biblatex:
        entry_type = _biblatex_fields(entry_type, is_preprint, ref, journal, fields)
    else:
        entry_type = _BIBLATEX_ONLY_TYPES.get(entry_type, entry_type)
        _bibtex_fields(ref, journal, fields)
    return entry_type, {name: value for name, value in fields.items() if value}


def _bibtex_fields(ref: Reference, journal: str, fields: dict) -> None:
    fields["journal"] = journal
    fields["year"] = ref.year or ref.date[:4]
    month = re.match(r"\d{4}-(\d{2})", ref.date)
    if month and 1 <= int(month.group(1)) <= 12:
        fields["month"] = _MONTHS[int(month.group(1)) - 1]
    if ref.arxiv:
        fields["archiveprefix"] = "arXiv"
        fields["primaryclass"] = fields.pop("primaryclass", "") or fields.pop("eprintclass", "")
    fields.pop("date", None)


def _biblatex_fields(entry_type: str, is_preprint: bool, ref: Reference, journal: str, fields: dict) -> str:
    fields["journaltitle"] = journal
    fields["date"] = ref.date or ref.year
    fields.pop("year", None)
    fields.pop("month", None)
    if "school" in fields:
        fields["institution"] = fields.pop("school")
    if "address" in fields:
        fields["location"] = fields.pop("address")
    if ref.arxiv:
        fields["eprinttype"] = "arxiv"
        fields["eprintclass"] = fields.pop("eprintclass", "") or fields.pop("primaryclass", "")
        fields.pop("archiveprefix", None)
    if is_preprint:
        return "online"
    entry_type, thesis_type = _BIBLATEX_TYPES.get(entry_type, (entry_type, ""))
    if thesis_type:
        fields.setdefault("type", thesis_type)
    return entry_type


def _pages(pages: str) -> str:
    return re.sub(r"(?<=\w)\s*[-–—]+\s*(?=\w)", "--", pages)


def _ordered(fields: dict[str, str]) -> list[str]:
    known = [name for name in FIELD_ORDER if name in fields]
    return known + sorted(name for name in fields if name not in FIELD_ORDER)


def _value(name: str, value, to_text) -> str:
    if name in ("author", "editor"):
        return "{" + format_names(value, to_text) + "}"
    if name == "month" and value in _MONTHS:
        return value
    if name in _RAW_FIELDS:
        return "{" + _balanced(value) + "}"
    if name in ("title", "booktitle", "journal", "journaltitle", "series"):
        return "{" + to_text(protect_capitals(_balanced(value))) + "}"
    return "{" + _balanced(to_text(value)) + "}"


def _balanced(value: str) -> str:
    """The value itself when its braces balance, else with every brace escaped."""
    depth = 0
    for char in value:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth == 0:
        return value
    return re.sub(r"(?<!\\)([{}])", r"\\\1", value)


_WORD = re.compile(r"(?<![\\{\w])([^\W\d_][\w'’-]*)")


def protect_capitals(title: str) -> str:
    """Brace the words whose capitals must survive a lowercasing style: acronyms and words
    with a capital past their first letter (`{BERT}`, `{ImageNet}`, `{GPT-3}`), and, in a
    sentence-case title, capitalized words after the first (proper nouns: `{Bayesian}`)."""
    math = [match.span() for match in MATH_SPAN.finditer(title)] if "$" in title or "\\" in title else []
    words = [match.group(1) for match in _WORD.finditer(title) if not _inside(match.start(), math)]
    later = [word for word in words[1:] if word.lower() not in _SMALL_WORDS]
    sentence_case = bool(later) and sum(word[0].isupper() for word in later) * 2 <= len(later)
    first_word = words[0] if words else ""

    def protect(match: re.Match) -> str:
        word = match.group(1)
        if _inside(match.start(), math):
            return word
        inner_capital = any(char.isupper() for char in word[1:])
        proper_noun = sentence_case and word[0].isupper() and not _starts_sentence(title, match.start()) and match.start() != title.find(first_word)
        single_capital = len(word) == 1 and word.isupper() and word != "A" and match.start() > 0
        return "{" + word + "}" if inner_capital or proper_noun or single_capital else word

    return _WORD.sub(protect, title)


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _starts_sentence(title: str, position: int) -> bool:
    before = title[:position].rstrip()
    return not before or before[-1] in ":.?!"


_SMALL_WORDS = {"a", "an", "the", "of", "on", "in", "and", "or", "for", "to", "with", "by", "at", "from", "via", "as", "is"}
