"""Identifiers and titles to complete references: what `citewise resolve` and "Add from DOI" do.

`resolve_text("10.1145/3448016.3452841", registries)` gives a `Resolution`: the reference
(without a key), the identifier it was asked by, and where each field came from. A reference
is only returned when a registry knows the identifier, or when a search result's title agrees
with the title asked for; otherwise `CitewiseError` says why, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference
from citewise.bib.registries.http import RegistryUnavailable
from citewise.bib.registries.identifiers import Identifier, parse_identifier
from citewise.bib.registries.lookup import Registries
from citewise.bib.registries.records import Work


@dataclass
class Resolution:
    query: str
    identifier: Identifier
    reference: Reference
    sources: dict[str, str] = field(default_factory=dict)
    """Field name -> the registry it came from."""
    retracted_by: str = ""
    published_doi: str = ""


def resolve_text(text: str, registries: Registries) -> Resolution:
    ident = parse_identifier(text)
    if not ident.value:
        raise CitewiseError(f"{text!r}: nothing to look up")
    try:
        work = registries.identifier(ident)
    except RegistryUnavailable as error:
        raise CitewiseError(f"{ident.label()}: registries unavailable ({error})") from None
    if work is None:
        what = "no registry knows" if ident.kind != "title" else "no registry has a work titled"
        asked = (f"{ident.value!r}" + (f" by {ident.author}" if ident.author else "")) if ident.kind == "title" else ident.label()
        raise CitewiseError(f"{text}: {what} {asked}")
    return resolution_of(text, ident, work)


def resolution_of(text: str, ident: Identifier, work: Work) -> Resolution:
    ref = work.ref
    known = {f.name: work.source for f in fields(Reference) if f.name not in ("key", "origin", "zotero_key") and getattr(ref, f.name)}
    return Resolution(text, ident, ref, known, work.retracted_by, work.published_doi)
