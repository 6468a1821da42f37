"""Suggestions as you write: papers for the sentence at the cursor, and the edits that cite them.

The ranking reads the whole draft (server/features/ranking.py): the sentence at the cursor
and the one before it first, then the paragraph, headings, title and abstract, what the
draft already cites and the author's library. Papers already cited in those two sentences
are left out. A suggested paper already in the draft's .bib (same key, DOI or title) is
offered under its .bib key, so citing it adds no entry.
"""

from __future__ import annotations

import bisect
import re
from concurrent.futures import Future
from dataclasses import dataclass

from citewise.bib.model import Reference, normalize_doi, normalize_title
from citewise.bib.text import strip_markup
from citewise.server.features.draft_bib_lookup import DraftBibLookup
from citewise.server.features.edits import citation_insertion, cite_edits
from citewise.server.features.feedback import feedback_for
from citewise.server.features.positions import Command, Pos, Range, TextEdit
from citewise.server.features.ranking import embed_ahead as ranking_embed_ahead
from citewise.server.features.ranking import rank, reason
from citewise.server.features.render import authors_line, plain, short_cite
from citewise.server.features.sentences import Sentence, sentence_at
from citewise.server.features.surroundings import paragraphs
from citewise.server.features.workspace import Document, Workspace


@dataclass(frozen=True)
class SuggestionItem:
    key: str
    title: str
    authors: str
    year: str
    score: float
    in_bib: bool
    reason: str = ""


@dataclass(frozen=True)
class SuggestionSet:
    uri: str
    range: Range | None
    items: list[SuggestionItem]


@dataclass(frozen=True)
class Suggestion:
    """One suggested paper with everything needed to cite it."""

    item: SuggestionItem
    ref: Reference


def embed_ahead(ws: Workspace, uri: str, pos: Pos) -> Future | None:
    """Start embedding, off the features thread, what `suggest(ws, uri, pos)` will query with
    (ranking.embed_ahead); the language server waits for it between the two calls, so that
    completions are answered meanwhile. None when there is nothing to embed."""
    document = ws.document(uri)
    if document is None or document.language is None:
        return None
    return ranking_embed_ahead(ws, document, document.lines.offset_of(pos))


def suggest(ws: Workspace, uri: str, pos: Pos) -> SuggestionSet:
    document = ws.document(uri)
    if document is None or document.language is None:
        return SuggestionSet(uri, None, [])
    sentence, suggestions = suggestions_at(ws, document, pos, wait_for_library=False)  # as you write: never waits
    span = document.lines.offset_range(sentence.start, sentence.end) if sentence else None
    return SuggestionSet(uri, span, [s.item for s in suggestions])


def suggestions_at(ws: Workspace, document: Document, pos: Pos, count: int | None = None,
                   weights: dict[str, float] | None = None,
                   wait_for_library: bool = True) -> tuple[Sentence | None, list[Suggestion]]:
    """The sentence at `pos` and the papers suggested for it, best first (ranked by
    server/features/ranking.py; `weights` replace its fitted WEIGHTS, for the benchmark)."""
    count = ws.settings.suggestion_count if count is None else count
    ranking = rank(ws, document, document.lines.offset_of(pos), weights, wait_for_library)
    if ranking.sentence is None or count <= 0:
        return ranking.sentence, []
    bib = DraftBibLookup(ws, document.uri, converted_only=not wait_for_library)
    nearby_refs = [bib.by_key[key] for key in ranking.nearby_keys if key in bib.by_key]
    suggestions = []
    for candidate in ranking.candidates:
        bib_key = bib.key_of(candidate.ref)
        key = bib_key or candidate.ref.key
        if key in ranking.nearby_keys or any(_same_paper(candidate.ref, ref) for ref in nearby_refs):
            continue
        if candidate.features.get("feedback", 0.0) <= -1.0:  # dismissed by the author: never again here
            continue
        ref = bib.by_key[bib_key] if bib_key else candidate.ref
        item = SuggestionItem(key, plain(ref.title), authors_line(ref, limit=3), ref.year,
                              round(candidate.score, 4), bib_key is not None, reason(candidate, weights))
        suggestions.append(Suggestion(item, ref))
        if len(suggestions) == count:
            break
    store = feedback_for(ws)
    if store is not None:
        store.shown([s.item.key for s in suggestions])
    return ranking.sentence, suggestions


MIN_PARAGRAPH_WORDS = 8


@dataclass(frozen=True)
class ParagraphSuggestions:
    """Papers for one paragraph of a draft file; `line` is 0-based."""

    path: str
    line: int
    text: str
    items: list[SuggestionItem]
    refs: list[Reference]


def draft_suggestions(ws: Workspace, path: str, count: int) -> list[ParagraphSuggestions]:
    """Papers to cite in each prose paragraph of the draft `path` and the files it includes,
    leaving out every paper the draft already cites. Each paragraph is ranked as if the cursor
    stood at its end, through `suggestions_at`: the same ranking as the editor's suggestions."""
    draft = ws.project_draft(path)
    cited = set(draft.cited_keys())
    results = []
    for file in dict.fromkeys([path, *draft.files]):
        document = ws.document(file)
        if document is None or document.language is None:
            continue
        bib = DraftBibLookup(ws, document.uri)
        cited_refs = [bib.by_key[key] for key in cited if key in bib.by_key]
        for start, end in paragraphs(document.text, document.language):
            words = " ".join(strip_markup(document.text[start:end]).split())
            if len(words.split()) < MIN_PARAGRAPH_WORDS:
                continue
            _, found = suggestions_at(ws, document, document.lines.position_of(end), count + len(cited))
            kept = [s for s in found if s.item.key not in cited and not any(_same_paper(s.ref, r) for r in cited_refs)]
            kept = kept[:count]
            results.append(ParagraphSuggestions(document.path, document.lines.position_of(start).line, words,
                                                [s.item for s in kept], [s.ref for s in kept]))
    return results


def _same_paper(a: Reference, b: Reference) -> bool:
    if a.doi and b.doi:
        return normalize_doi(a.doi) == normalize_doi(b.doi)
    return bool(a.title) and normalize_title(a.title) == normalize_title(b.title)


def cite_action_parts(ws: Workspace, document: Document, sentence: Sentence,
                      suggestion: Suggestion) -> tuple[str, dict[str, list[TextEdit]], Command | None]:
    """Title, edits and follow-up command of the action citing `suggestion` in `sentence`."""
    item = suggestion.item
    title = f"Cite: {item.title or item.key} ({short_cite(suggestion.ref)})".replace(" ()", "")
    if item.reason:
        title += f" — {item.reason}"
    edits: dict[str, list[TextEdit]] = {}
    if not item.in_bib:
        edits = cite_edits(ws, document.uri, suggestion.ref)
    insertion = citation_insertion(ws, document, sentence.insertion_offset, [item.key])
    edits.setdefault(document.path, []).insert(0, insertion)
    command = None
    if ws.settings.zotero_push and not item.in_bib:
        command = Command("Add to Zotero", "citewise.pushToZotero", [item.key])
    elif ws.settings.suggestion_feedback:
        command = Command("Remember the accepted suggestion", "citewise.acceptSuggestion", [item.key])
    return title, edits, command


_CLAIM = re.compile(
    r"\b(?:recent(?:ly)? (?:work|works|studies|research|advances|papers)|ha(?:s|ve) been (?:shown|demonstrated|proposed|reported)"
    r"|state[- ]of[- ]the[- ]art|et al\.|\d+(?:\.\d+)?\s?(?:\\%|%|percent\b))",
    re.IGNORECASE,
)
MAX_CLAIM_SCAN_CHARS = 2_000_000
MAX_CLAIM_HINTS = 200


@dataclass(frozen=True)
class Claim:
    sentence: Sentence
    phrase: str


CLAIM_SENTENCE_WINDOW = 600


def uncited_claims(document: Document) -> list[Claim]:
    """Sentences with a claim phrase and no citation (first 2 MB of the draft, at most 200)."""
    text = document.text[:MAX_CLAIM_SCAN_CHARS]
    lines = document.lines
    cite_offsets = sorted(lines.line_starts[c.line] + c.col for c in document.citations if c.line < lines.line_count)
    claims: list[Claim] = []
    covered_until = -1
    for match in _CLAIM.finditer(text):
        if match.start() < covered_until:
            continue
        if document.language == "latex" and _in_latex_comment(text, match.start()):
            continue
        sentence = sentence_at(text, match.start(), CLAIM_SENTENCE_WINDOW)
        if sentence is None:
            continue
        covered_until = sentence.end
        first_cite = bisect.bisect_left(cite_offsets, sentence.start)
        if first_cite < len(cite_offsets) and cite_offsets[first_cite] <= sentence.end + 1:
            continue
        claims.append(Claim(sentence, match.group(0)))
        if len(claims) >= MAX_CLAIM_HINTS:
            break
    return claims


def _in_latex_comment(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    return re.search(r"(?<!\\)%", text[line_start:offset]) is not None
