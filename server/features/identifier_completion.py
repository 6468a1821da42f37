"""Completion of an identifier typed as a citation key: `\\cite{10.1109/iccv.2007.4408927` or
`[@arXiv:1706.03762` offers the entry the registries know for it, under a key from the key formula.

It waits for the `verify` setting, the one switch for everything that talks to the registries.
The work is split like the other registry features, so the features thread never waits on the
network (features/background.py): `typed_identifier` (features thread) names the DOI or arXiv id
being typed when no answer is known for it yet; `resolve` (`lookups` lane) asks the registries
and keeps the answer; `complete` (features thread) is citation-key completion (features/completion.py)
with the known answer's entry first. Answers are kept per workspace for the session; the registries' own answers are
cached on disk (`citewise.bib.registries.cache`). A registry that fails leaves no answer, so the
next completion request asks again: never an error, never an item built from nothing.

Accepting the offer cites its key; the entry reaches the draft's .bib the way an index paper's
does (features/accept.py), so it works in clients that ignore an item's `command`.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import weakref
from dataclasses import dataclass

from citewise.bib.model import Reference
from citewise.bib.registries.http import RegistryUnavailable
from citewise.bib.registries.identifiers import Identifier, parse_identifier
from citewise.server.features import completion, reference_checks
from citewise.server.features.accept import add_offers
from citewise.server.features.completion import CompletionCandidate, citation_context
from citewise.server.features.edits import declaration_edit, target_bib_path
from citewise.server.features.positions import Pos
from citewise.server.features.render import detail_line, reference_markdown
from citewise.server.features.workspace import Document, Workspace

KINDS = ("doi", "arxiv")


@dataclass(frozen=True)
class IdentifierOffer:
    """The resolved entry of a typed identifier: `ref` carries the key to cite; `label` names the
    identifier; `in_bib` when a .bib of the draft holds the work already (under that key)."""

    ref: Reference
    label: str
    in_bib: bool


class _Answers:
    """Per workspace: identifier -> the registries' reference, or None for "no such work"."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refs: dict[Identifier, Reference | None] = {}
        self.offered: dict[str, dict[str, Reference]] = {}  # uri -> key -> the entries last offered

    def known(self, ident: Identifier) -> bool:
        with self.lock:
            return ident in self.refs

    def get(self, ident: Identifier) -> Reference | None:
        with self.lock:
            return self.refs.get(ident)


_ANSWERS: weakref.WeakKeyDictionary[Workspace, _Answers] = weakref.WeakKeyDictionary()
_ANSWERS_LOCK = threading.Lock()


def _answers(ws: Workspace) -> _Answers:
    with _ANSWERS_LOCK:
        return _ANSWERS.setdefault(ws, _Answers())


def typed_identifier(ws: Workspace, uri: str, pos: Pos) -> Identifier | None:
    """The DOI or arXiv id typed as the citation key at `pos` that still needs asking about
    (None with `verify` off, outside a citation, or when its answer is known)."""
    document = ws.document(uri)
    if document is None or not ws.settings.verify:
        return None
    context = citation_context(document, pos, ws.extra_cite_macros())
    ident = _identifier(context.prefix if context is not None else "")
    return ident if ident is not None and not _answers(ws).known(ident) else None


def resolve(ws: Workspace, ident: Identifier) -> bool:
    """Ask the registries about `ident` and keep the answer (run on the `lookups` lane);
    whether an answer was kept (False when no registry could answer)."""
    try:
        work = reference_checks.registries(ws).identifier(ident)
    except RegistryUnavailable:
        return False
    answers = _answers(ws)
    with answers.lock:
        answers.refs[ident] = work.ref if work is not None else None
    return True


def complete(ws: Workspace, uri: str, pos: Pos) -> list[CompletionCandidate]:
    """Citation-key completion, led by the entry of the identifier typed as the key once it resolved
    (labelled by its key, like every item; its detail names the identifier)."""
    candidates = completion.complete(ws, uri, pos)
    if not ws.settings.verify:  # no identifier is ever looked up: no offer to lead with, no second parse
        return candidates
    document = ws.document(uri)
    context = citation_context(document, pos, ws.extra_cite_macros()) if document is not None else None
    if context is None:
        return candidates
    offers = identifier_offers(ws, document, context.prefix)
    if not offers:
        return candidates
    r = context.range
    key_range = document.lines.lsp_range(r.start_line, r.start_col, r.end_line, r.end_col)
    insert_prefix = "@" if context.insert_style == "at-key" else ""
    declaration = declaration_edit(ws, document, target_bib_path(ws, uri))
    answers = _answers(ws)
    with answers.lock:
        answers.offered[uri] = {offer.ref.key: offer.ref for offer in offers}
    ours = []
    for offer in offers:
        ref = offer.ref
        ours.append(CompletionCandidate(
            key=ref.key, detail=f"{offer.label}: {detail_line(ref)}", documentation_md=reference_markdown(ref),
            filter_text=_filter_text(context.prefix.strip(), ref.key), sort_text="!", in_bib=offer.in_bib,
            insert_text=insert_prefix + ref.key, replace_range=key_range,
            additional_text_edits=[declaration] if declaration and not offer.in_bib else []))
    typed = context.prefix.strip()
    add_offers(ws, uri, [offer.ref for offer in offers if not offer.in_bib], typed[:len(typed) - len(_last_word(typed))])
    return ours + [c for c in candidates if c.key not in {o.ref.key for o in offers}]


def _filter_text(typed: str, key: str) -> str:
    """What clients match the typed text against: it must start with what they take as typed. VS Code
    takes the text from the start of the edit range (the whole identifier), eglot the word before
    the cursor (`4408927` of `10.1109/iccv.2007.4408927`); the Neovim setup's omnifunc keeps every item."""
    word = _last_word(typed)
    return " ".join(dict.fromkeys(part for part in (word, typed, key) if part))


def _last_word(typed: str) -> str:
    return _LAST_WORD.search(typed).group(0)


_LAST_WORD = re.compile(r"\w*$")


def documentation(ws: Workspace, uri: str, key: str) -> str | None:
    """The Markdown card of a completion item being resolved: an identifier's entry, else completion's."""
    answers = _answers(ws)
    with answers.lock:
        ref = answers.offered.get(uri, {}).get(key)
    return reference_markdown(ref) if ref is not None else completion.documentation(ws, uri, key)


def identifier_offers(ws: Workspace, document: Document, typed: str) -> list[IdentifierOffer]:
    """The offer for the identifier `typed` as a key, once the registries answered for it."""
    ident = _identifier(typed)
    if ident is None or not ws.settings.verify:
        return []
    found = _answers(ws).get(ident)
    if found is None:
        return []
    key, in_bib = reference_checks.key_for(ws, document.uri, found)
    return [IdentifierOffer(dataclasses.replace(found, key=key), ident.label(), in_bib)]


def _identifier(typed: str) -> Identifier | None:
    ident = parse_identifier(typed.strip().lstrip("@")) if typed.strip() else None
    return ident if ident is not None and ident.kind in KINDS else None
