"""What the index's citation links say about the papers a draft cites, as suggestion features.

Two features for the ranking (server/features/ranking.py), both about 0..1:
- `linked_cocited`: how many papers of the index cite a candidate together with a paper the
  draft cites (co-citation through reference lists, bib/index/citation_links.py);
- `cites_cited`: how many of the papers the draft cites a candidate cites.

The draft's own paper, when the index holds it (a paper with the draft's title), is neither
evidence nor a candidate: its reference list is the answer, not a clue.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass

from citewise.bib.index.store import Index
from citewise.bib.model import Reference

_CACHE_SIZE = 8


@dataclass
class CitationLinkEvidence:
    cited_with: Counter[int]  # row -> index papers citing it together with a paper the draft cites
    citing: Counter[int]  # row -> how many of the papers the draft cites it cites
    own: set[int]  # the draft's own paper's rows


_CACHE: OrderedDict[tuple, CitationLinkEvidence] = OrderedDict()


def links_for(index: Index, cited_rows: frozenset[int], title: str) -> CitationLinkEvidence:
    """The evidence for a draft citing `cited_rows` under `title`; cached per index revision,
    cited rows and title (the same for every keystroke until one of them changes)."""
    key = (index.serial, index.revision(), cited_rows, title)
    found = _CACHE.get(key)
    if found is None:
        own = {row for row in index.row_ids_for([Reference(title=title)]) if row is not None} if title else set()
        if cited_rows:
            found = CitationLinkEvidence(index.cited_with(cited_rows, own), index.citing(cited_rows), own)
        else:
            found = CitationLinkEvidence(Counter(), Counter(), own)
        for row in own:
            found.citing.pop(row, None)
        _CACHE[key] = found
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def add_link_features(row_id: int, features: dict[str, float], evidence: dict[str, str],
                      links: CitationLinkEvidence) -> None:
    """Set a candidate's two link features, and the evidence its reason quotes."""
    together, cites = links.cited_with.get(row_id, 0), links.citing.get(row_id, 0)
    features["linked_cocited"] = together / (together + 1.0)
    features["cites_cited"] = cites / (cites + 1.0)
    if together:
        evidence["linked_cocited"] = "1 paper in your index cites" if together == 1 else f"{together} papers in your index cite"
    if cites:
        evidence["cites_cited"] = "1 paper" if cites == 1 else f"{cites} papers"
