"""Adding an accepted paper's .bib entry, the same way in every editor.

Completion offers papers from the index that no .bib of the draft holds yet. Accepting one
must also add its entry to the .bib, but a completion item can only edit its own document
(`additionalTextEdits`), and several clients (eglot, Helix, Neovim's omnifunc before 0.11)
ignore an item's `command`. So the server remembers the index papers it last offered for
a draft, and when a change to that draft puts one of them in a citation once more than when
it was offered (the closing brace may still be missing), and no .bib of the draft holds it,
`accepted_papers` returns it; `entry_edits` gives the edit adding its entry, which the protocol
layer sends as a workspace/applyEdit. Whatever the client, the .bib ends up the same.

Papers other than the index's (an identifier's entry from the registries,
features/identifier_completion.py) join an offer with `add_offers`. A client that replaces only
the word before the cursor (eglot's TAB, Neovim's omnifunc) leaves the rest of a DOI typed as the
key in front of it (`10.1109/iccv.2007.sinop…`): `draft_edits` removes that leftover, in an edit of
its own after the .bib's. It also declares the .bib in a draft that declares none, for a client that
did not apply the item's `additionalTextEdits` (eglot when TAB completes the only match in place).

Both edits are computed on the text the features hold and carry its version. A user who typed on
before the edit arrived makes the client refuse it; the protocol layer then computes it again on
the newer text (the accepted papers stay the same), so it never lands on text it was not computed for.

Offers are kept per workspace and per draft, replaced by the next completion request for
that draft and dropped once one of them is taken. Like every features call, these run on
the server's one features thread.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

from citewise.bib.model import Reference
from citewise.server.drafts.project import citation_at
from citewise.server.features.edits import VersionedEdits, bib_entry_edit, declaration_edit, target_bib_path
from citewise.server.features.positions import Range, TextEdit
from citewise.server.features.workspace import Document, Workspace


@dataclass
class _Offer:
    refs: dict[str, Reference]
    occurrences: dict[str, int]  # how often each key was in the draft's text when offered
    leftovers: dict[str, str] = field(default_factory=dict)
    """key -> what a client that replaces only the word before the cursor leaves in front of the
    key (`10.1109/iccv.2007.` of a DOI typed as the key, whose last word is `4408927`)."""


@dataclass
class AcceptedPapers:
    """Papers of an offer the draft at `uri` just cited, and what was typed in front of each key."""

    uri: str
    refs: list[Reference]
    leftovers: dict[str, str]

    @property
    def keys(self) -> list[str]:
        return [ref.key for ref in self.refs]


_OFFERS: weakref.WeakKeyDictionary[Workspace, dict[str, _Offer]] = weakref.WeakKeyDictionary()


def remember_offers(ws: Workspace, uri: str, refs: list[Reference]) -> None:
    """Record the index papers a completion request for `uri` offered (replacing older offers)."""
    offers = _OFFERS.setdefault(ws, {})
    document = ws.document(uri)
    if not refs or document is None:
        offers.pop(uri, None)
        return
    offers[uri] = _Offer({ref.key: ref for ref in refs}, {ref.key: document.text.count(ref.key) for ref in refs})


def add_offers(ws: Workspace, uri: str, refs: list[Reference], leftover: str = "") -> None:
    """Add papers to the offers of the completion request for `uri` being answered; `leftover`:
    the typed text in front of the word before the cursor, which accepting them replaces too."""
    document = ws.document(uri)
    if not refs or document is None:
        return
    offer = _OFFERS.setdefault(ws, {}).setdefault(uri, _Offer({}, {}))
    for ref in refs:
        offer.refs[ref.key] = ref
        offer.occurrences[ref.key] = document.text.count(ref.key)
        if leftover:
            offer.leftovers[ref.key] = leftover


def forget_offers(ws: Workspace, uri: str) -> None:
    _OFFERS.get(ws, {}).pop(uri, None)


def accepted_papers(ws: Workspace, uri: str) -> AcceptedPapers | None:
    """After a change to `uri`: the offered papers the change cited that no .bib holds, or None.
    The offer is used up (the same acceptance is never reported twice)."""
    offer = _OFFERS.get(ws, {}).get(uri)
    document = ws.document(uri)
    if offer is None or document is None:
        return None
    grown = [key for key, count in offer.occurrences.items() if document.text.count(key) > count]
    accepted = [
        key for key in grown
        if _typed_in_a_citation(ws, document, key, offer.leftovers.get(key, "")) is not None
        and not _in_a_bib(ws, uri, key)
    ]
    if not accepted:
        return None
    forget_offers(ws, uri)
    return AcceptedPapers(uri, [offer.refs[key] for key in accepted], {k: offer.leftovers.get(k, "") for k in accepted})


def entry_edits(ws: Workspace, accepted: AcceptedPapers) -> VersionedEdits:
    """The edit adding the entries of `accepted` no .bib of the draft holds yet, on the .bib as it is now."""
    bib_path = target_bib_path(ws, accepted.uri)
    edits: dict[str, list[TextEdit]] = {}
    for ref in accepted.refs:
        if _in_a_bib(ws, accepted.uri, ref.key):
            continue
        edit = bib_entry_edit(ws, bib_path, ref)
        if edit is not None:
            edits.setdefault(bib_path, []).append(TextEdit(edit.range, edit.new_text))
    return VersionedEdits(edits, ws.versions_of(list(edits)))


def draft_edits(ws: Workspace, accepted: AcceptedPapers) -> VersionedEdits:
    """The edit of the draft as it is now: removing what a client left in front of an accepted key,
    and declaring the .bib when the draft declares none."""
    document = ws.document(accepted.uri)
    if document is None:
        return VersionedEdits({}, {})
    changes = []
    for key, leftover in accepted.leftovers.items():
        where = _leftover_range(ws, document, key, leftover) if leftover else None
        if where is not None:
            changes.append(TextEdit(where, ""))
    declaration = declaration_edit(ws, document, target_bib_path(ws, accepted.uri))
    if declaration is not None:
        changes.append(declaration)
    edits = {document.path: changes} if changes else {}
    return VersionedEdits(edits, ws.versions_of(list(edits)))


def _typed_in_a_citation(ws: Workspace, document: Document, key: str, leftover: str) -> Range | None:
    """Where `leftover` stands in front of `key` as a key in a citation of the draft (an empty range
    before `key` when the key stands alone); None when it stands in no citation."""
    return next((where for where, typed in _cited(ws, document, key) if typed in (key, leftover + key)), None)


def _leftover_range(ws: Workspace, document: Document, key: str, leftover: str) -> Range | None:
    """Where `leftover` still stands in front of `key` in a citation of the draft, or None."""
    return next((where for where, typed in _cited(ws, document, key) if typed == leftover + key), None)


def _cited(ws: Workspace, document: Document, key: str) -> Iterator[tuple[Range, str]]:
    """Each place `key` ends what is typed as a key in a citation, finished (`\\cite{key}`) or still
    being typed (`\\cite{key` at the end of a line), as completion inserts it: the range of what
    stands in front of `key` in that typed key, and the typed key."""
    start = document.text.find(key)
    while start != -1:
        end = document.lines.position_of(start + len(key))
        line, col = document.lines.char_col(end)
        context = citation_at(document.text, document.language, line, col, ws.extra_cite_macros())
        typed = context.prefix.strip().lstrip("@") if context is not None else None
        if typed is not None and typed.endswith(key):
            yield Range(document.lines.position_of(start - len(typed) + len(key)), document.lines.position_of(start)), typed
        start = document.text.find(key, start + 1)


def _in_a_bib(ws: Workspace, uri: str, key: str) -> bool:
    return any(state.file.entry(key) is not None for state in ws.bib_states_for(uri))
