"""Which key a paper already has in a draft's .bib files (same key, DOI or title), if any.

Suggestions offer a paper under its .bib key, so citing it adds no entry; `citewise cite`
(citing.py) cites the .bib's key instead of adding a second entry for the same paper.
"""

from __future__ import annotations

from citewise.bib.model import Reference, normalize_doi, normalize_title
from citewise.server.features.workspace import BibState, Workspace


class DraftBibLookup:
    """The entries of the .bib files a draft uses, by key, DOI and normalized title.

    Built from each .bib's parse (cached on its `BibState`, so it is rebuilt only when that
    file changes); the first file to hold a key, DOI or title wins. The mappings are read-only:
    a draft with one .bib shares that file's cached ones (no copy of 5,000 entries per keystroke).
    With `converted_only`, a .bib whose entries are not converted yet (the first seconds after a
    large file is read: `BibState.converted`) is left out rather than converted on this call."""

    def __init__(self, ws: Workspace, uri: str, converted_only: bool = False):
        parts = [state.derive("lookup", _lookup_of) for state in ws.bib_states_for(uri)
                 if state.converted or not converted_only]
        if len(parts) == 1:
            self.by_key, self.by_doi, self.by_title = parts[0]
            return
        self.by_key: dict[str, Reference] = {}
        self.by_doi: dict[str, str] = {}
        self.by_title: dict[str, str] = {}
        for part in parts:
            for mapping, found in zip((self.by_key, self.by_doi, self.by_title), part):
                for name, value in found.items():
                    mapping.setdefault(name, value)

    def key_of(self, ref: Reference) -> str | None:
        if ref.key in self.by_key:
            return ref.key
        if ref.doi and normalize_doi(ref.doi) in self.by_doi:
            return self.by_doi[normalize_doi(ref.doi)]
        if ref.title:
            return self.by_title.get(normalize_title(ref.title))
        return None


def _lookup_of(state: BibState) -> tuple[dict[str, Reference], dict[str, str], dict[str, str]]:
    refs = state.references
    return (refs, {normalize_doi(r.doi): k for k, r in refs.items() if r.doi},
            {normalize_title(r.title): k for k, r in refs.items() if r.title})
