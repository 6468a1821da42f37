"""Which registry to ask for what: one object the resolver, verify and enrichment share.

- a DOI: Crossref, then DataCite (arXiv's and data repositories' DOIs are DataCite's);
- an arXiv id: the arXiv API;
- an ISBN: Open Library; a PubMed id: NCBI E-utilities;
- a title: Crossref's bibliographic search and arXiv's title search, keeping only records whose
  title agrees with the one asked for (registries always answer a search with something);
- OpenAlex: a second opinion on retraction for works with a DOI.

Lookups raise `RegistryUnavailable` when no registry could answer; `None` means "no such work".
"""

from __future__ import annotations

from citewise.bib.bibtex.names import parse_names
from citewise.bib.registries import arxiv, crossref, datacite, openalex, openlibrary, pubmed
from citewise.bib.registries.cache import ResponseCache
from citewise.bib.registries.http import RegistryHTTP, RegistrySettings, RegistryUnavailable
from citewise.bib.registries.identifiers import Identifier
from citewise.bib.registries.matching import first_authors_agree, title_similarity, titles_agree
from citewise.bib.registries.records import Work


class Registries:
    def __init__(self, http: RegistryHTTP):
        self.http = http

    @classmethod
    def open(cls, offline: bool = False, mailto: str | None = None) -> Registries:
        """Settings from the environment; the answer cache in citewise's cache directory."""
        from citewise.bib.bibtex.cache import cache_dir

        return cls(RegistryHTTP(RegistrySettings.from_environment(offline, mailto), ResponseCache(cache_dir() / "registry.sqlite")))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Registries:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def identifier(self, ident: Identifier) -> Work | None:
        """The work an identifier names (titles: the best agreeing search result, by the author when one is given)."""
        if ident.kind == "doi":
            return self.doi(ident.value)
        if ident.kind == "arxiv":
            return arxiv.by_id(self.http, ident.value)
        if ident.kind == "isbn":
            return openlibrary.by_isbn(self.http, ident.value)
        if ident.kind == "pmid":
            return pubmed.by_pmid(self.http, ident.value)
        matches = self.title(ident.value, ident.author)
        if ident.author:  # a title asked with its author: never a namesake by somebody else
            matches = [work for work in matches if first_authors_agree(parse_names(ident.author), work.ref.authors) is not False]
        return matches[0] if matches else None

    def doi(self, doi: str) -> Work | None:
        unavailable = None
        try:
            work = crossref.by_doi(self.http, doi)
        except RegistryUnavailable as error:
            work, unavailable = None, error
        if work is not None:
            return work
        work = datacite.by_doi(self.http, doi)
        if work is None and unavailable is not None:
            raise unavailable
        return work

    def openalex(self, doi: str) -> Work | None:
        return openalex.by_doi(self.http, doi)

    def title(self, title: str, author: str = "") -> list[Work]:
        """Records whose title agrees with `title`, best first (Crossref, then arXiv when Crossref has none)."""
        failures = []
        found: list[Work] = []
        for search in (lambda: crossref.search(self.http, title, author), lambda: arxiv.search(self.http, title)):
            try:
                found = [work for work in search() if titles_agree(title, work.ref.title)]
            except RegistryUnavailable as error:
                failures.append(error)
                continue
            if found:
                break
        if not found and failures:
            raise failures[0]
        return sorted(found, key=lambda work: -_score(work, title, author))


def _score(work: Work, title: str, author: str) -> float:
    score = title_similarity(title, work.ref.title)
    if author and first_authors_agree(parse_names(author), work.ref.authors):
        score += 50
    return score
