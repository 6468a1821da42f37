"""The text around the cursor as a search query, and its index hits, shared by completion and suggestions.

The query is the words of the sentence at the cursor and the one before it (the one after
it at the start of a paragraph; never one from another paragraph), without the citation being typed or any markup. It does not
change while the user types a key, and it is the same one the debounced suggestions
searched for while the sentence was written: the first completion in a sentence then
finds its hits in the cache instead of searching 100,000 papers again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from citewise.bib.text import strip_markup
from citewise.server.features.sentences import Sentence, same_paragraph, sentences_near
from citewise.server.features.workspace import Workspace

if TYPE_CHECKING:
    from citewise.bib.index.search import Searcher

MIN_HITS = 30
_CACHE: OrderedDict[tuple, tuple] = OrderedDict()
_CACHE_SIZE = 64
_EMBEDDING: OrderedDict[tuple[int, str], Future] = OrderedDict()  # (searcher, query) -> its embedding on the `queries` lane
_WORD = re.compile(r"\w[\w'-]*")  # the query keeps words only, so punctuation left by a citation changes nothing
_OPEN_CITATION = re.compile(r"(\\[A-Za-z]*cite[A-Za-z]*\*?(\[[^\]]*\])*\{[^{}]*|\[[^\[\]]*|-?@\S*|\{cite(:\w+)?\}`[^`]*)$")


@dataclass(frozen=True)
class CursorContext:
    sentence: Sentence | None
    neighbour: Sentence | None
    query: str


def cursor_context(text: str, offset: int) -> CursorContext:
    before, sentence, after = sentences_near(text, offset)
    if sentence is None:
        return CursorContext(None, None, "")
    own = _without_open_citation(sentence.text, offset - sentence.start)
    before = before if before is not None and same_paragraph(text, before, sentence) else None
    after = after if after is not None and same_paragraph(text, sentence, after) else None
    if before is not None:
        parts = [before.text, own]
    else:
        parts = [own, after.text] if after is not None else [own]
    return CursorContext(sentence, before or after, " ".join(_WORD.findall(strip_markup(" ".join(parts)))))


def _without_open_citation(sentence: str, cursor: int) -> str:
    """`sentence` without the citation the cursor is typing in (up to its closing bracket)."""
    cursor = max(0, min(cursor, len(sentence)))
    opened = _OPEN_CITATION.search(sentence, 0, cursor)
    if opened is None:
        return sentence
    rest = sentence[cursor:]
    closing = min((i for i in (rest.find("}"), rest.find("]"), rest.find("`")) if i >= 0), default=-1)
    return sentence[:opened.start()] + " " + (rest[closing + 1:] if closing >= 0 else "")


def context_hits(ws: Workspace, query: str, k: int = MIN_HITS, latest: bool = True,
                 embed_here: bool = True) -> tuple[list, object | None]:
    """Index hits for `query` (at least MIN_HITS of them) and its embedding once the model is
    loaded, cached per query, index and index revision, model, and whether they are semantic.
    With `latest=False` the hits of an earlier revision serve (completion, while another process
    or a Zotero sync writes the index: each of its commits would otherwise cost a new search per
    keystroke). With `embed_here=False` (completion) a query not embedded yet is not embedded on
    the calling thread: its hits are the words' alone, and no embedding, while the `queries` lane
    embeds it for the next request (a completion list is always incomplete, so the next
    keystroke asks again). The debounced suggestions usually embedded the sentence already
    (ranking.embed_ahead); embedding it here, beside the background lanes' Python loops, took a
    completion 100 ms and more."""
    searcher = ws.searcher
    semantic = searcher is not None and ws.model_ready and searcher.embedder is not None
    if semantic and not embed_here and searcher is not None and not searcher.embedded(query):
        _embed_later(ws, searcher, query)
        semantic = False
    k = max(k, MIN_HITS)
    key = (str(ws.index_path), ws.papers.model_state(), semantic, query, k)
    revision = ws.papers.revision()
    cached = _CACHE.get(key)
    if cached is not None and (cached[0] == revision or not latest):
        _CACHE.move_to_end(key)
        return cached[1], cached[2]
    hits = searcher.search(query, k=k, semantic=semantic) if searcher is not None else []
    vector = searcher.query_vector(query) if searcher is not None and semantic else None
    _CACHE[key] = (revision, hits, vector)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return hits, vector


def _embed_later(ws: Workspace, searcher: Searcher, query: str) -> None:
    """Embed `query` on the `queries` lane into the searcher's cache, once while it is pending."""
    key = (id(searcher), query)
    pending = _EMBEDDING.get(key)
    if pending is None or pending.done():
        _EMBEDDING[key] = ws.lanes.submit("queries", searcher.query_vector, query)
        if len(_EMBEDDING) > _CACHE_SIZE:
            _EMBEDDING.popitem(last=False)
