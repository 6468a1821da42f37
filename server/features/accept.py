"""Adding an accepted paper's .bib entry, the same way in every editor.

Completion offers papers from the index that no .bib of the draft holds yet. Accepting one
must also add its entry to the .bib, but a completion item can only edit its own document
(`additionalTextEdits`), and several clients (eglot, Helix, Neovim's omnifunc before 0.11)
ignore an item's `command`. So the server remembers the index papers it last offered for
a draft, and when a change to that draft puts one of them in a citation once more than when
it was offered (the closing brace may still be missing), and no .bib of the draft holds it, `entries_to_add` returns the edit adding its
entry; the protocol layer sends it as a workspace/applyEdit. Whatever the client, the
.bib ends up the same.

Papers other than the index's (an identifier's entry from the registries,
features/identifier_completion.py) join an offer with `add_offers`.

Offers are kept per workspace and per draft, replaced by the next completion request for
that draft and dropped once one of them is taken. Like every features call, these run on
the server's one features thread.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from citewise.bib.model import Reference
from citewise.server.drafts.project import citation_at
from citewise.server.features.edits import bib_entry_edit, target_bib_path
from citewise.server.features.positions import TextEdit
from citewise.server.features.workspace import Document, Workspace


@dataclass
class _Offer:
    refs: dict[str, Reference]
    occurrences: dict[str, int]  # how often each key was in the draft's text when offered


@dataclass
class AcceptedPapers:
    """Keys just cited from an offer and the edits adding their entries (`{path: [TextEdit]}`)."""

    keys: list[str]
    edits: dict[str, list[TextEdit]]


_OFFERS: weakref.WeakKeyDictionary[Workspace, dict[str, _Offer]] = weakref.WeakKeyDictionary()


def remember_offers(ws: Workspace, uri: str, refs: list[Reference]) -> None:
    """Record the index papers a completion request for `uri` offered (replacing older offers)."""
    offers = _OFFERS.setdefault(ws, {})
    document = ws.document(uri)
    if not refs or document is None:
        offers.pop(uri, None)
        return
    offers[uri] = _Offer({ref.key: ref for ref in refs}, {ref.key: document.text.count(ref.key) for ref in refs})


def add_offers(ws: Workspace, uri: str, refs: list[Reference]) -> None:
    """Add papers to the offers of the completion request for `uri` being answered."""
    document = ws.document(uri)
    if not refs or document is None:
        return
    offer = _OFFERS.setdefault(ws, {}).setdefault(uri, _Offer({}, {}))
    for ref in refs:
        offer.refs[ref.key] = ref
        offer.occurrences[ref.key] = document.text.count(ref.key)


def forget_offers(ws: Workspace, uri: str) -> None:
    _OFFERS.get(ws, {}).pop(uri, None)


def entries_to_add(ws: Workspace, uri: str) -> AcceptedPapers | None:
    """After a change to `uri`: the entries of offered papers the change cited, or None."""
    offer = _OFFERS.get(ws, {}).get(uri)
    document = ws.document(uri)
    if offer is None or document is None:
        return None
    grown = [key for key, count in offer.occurrences.items() if document.text.count(key) > count]
    accepted = [key for key in grown if _typed_in_a_citation(ws, document, key) and not _in_a_bib(ws, uri, key)]
    if not accepted:
        return None
    forget_offers(ws, uri)
    bib_path = target_bib_path(ws, uri)
    edits: list[TextEdit] = []
    for key in accepted:
        edit = bib_entry_edit(ws, bib_path, offer.refs[key])
        if edit is not None:
            edits.append(TextEdit(edit.range, edit.new_text))
    return AcceptedPapers(accepted, {bib_path: edits} if edits else {})


def _typed_in_a_citation(ws: Workspace, document: Document, key: str) -> bool:
    """Whether `key` stands as a key in a citation of the draft, finished (`\\cite{key}`) or
    still being typed (`\\cite{key` at the end of a line), as completion inserts it."""
    start = document.text.find(key)
    while start != -1:
        line, col = document.lines.char_col(document.lines.position_of(start + len(key)))
        context = citation_at(document.text, document.language, line, col, ws.extra_cite_macros())
        if context is not None and context.prefix.strip().lstrip("@") == key:
            return True
        start = document.text.find(key, start + 1)
    return False


def _in_a_bib(ws: Workspace, uri: str, key: str) -> bool:
    return any(state.file.entry(key) is not None for state in ws.bib_states_for(uri))
