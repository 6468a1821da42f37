"""The `verify` setting in the editor: registry checks after each diagnostics publication.

After each diagnostics publication for a document (with `verify` on), the cited entries not yet
checked are sent to the registries on the `registries` lane (never the features thread, so
completion does not wait on the network; see features/background.py); when answers arrive the
document's diagnostics are published again, now with the findings. Cite-check's weak fits
(features/fit_checks.py) are judged after them on the `embed` lane, once the model is loaded.
`citewise.addFromIdentifier` (lsp/commands.py) resolves the identifier the user chose on the `lookups` lane, and so does
completion for a DOI or arXiv id typed as a citation key (`resolve_typed_identifier`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from citewise.bib.registries.identifiers import Identifier
from citewise.server.features import fit_checks, identifier_completion, reference_checks
from citewise.server.features.positions import Pos
from citewise.server.lsp.server import CitewiseServer

RESOLVE_WAIT_S = 3.0
"""How long one completion request waits for the registries to resolve a newly typed identifier.
The lookup goes on after that, and a later request (the list is always incomplete) shows it."""

_RESOLVING: dict[Identifier, asyncio.Task[object]] = {}


def schedule_verification(ls: CitewiseServer, uri: str, republish: Callable[[], Awaitable[None]]) -> None:
    """Check `uri`'s new entries in the background, then `republish()` its diagnostics."""
    if ls.settings is None or not ls.settings.verify:
        return
    ls.spawn(_verify(ls, uri, republish))


async def _verify(ls: CitewiseServer, uri: str, republish: Callable[[], Awaitable[None]]) -> None:
    changed = False
    pending = await ls.run(reference_checks.entries_to_check, uri)
    if pending is not None:
        changed = bool(await ls.run(reference_checks.check_entries, pending, lane="registries"))
    job = await ls.run(fit_checks.fit_job, uri)
    if job is not None:
        changed = bool(await ls.run(fit_checks.run_fit_job, job, lane="embed")) or changed
    if changed:
        await republish()


async def resolve_typed_identifier(ls: CitewiseServer, uri: str, pos: Pos) -> None:
    """With `verify` on: before completing a DOI or arXiv id typed as a citation key, ask the
    registries about it on the `lookups` lane, waiting at most RESOLVE_WAIT_S (once per identifier)."""
    if ls.settings is None or not ls.settings.verify:
        return
    ident = await ls.run(identifier_completion.typed_identifier, uri, pos)
    if ident is None or ident in _RESOLVING:
        return
    task = _RESOLVING[ident] = asyncio.ensure_future(ls.run(identifier_completion.resolve, ident, lane="lookups"))
    task.add_done_callback(lambda _: _RESOLVING.pop(ident, None))
    await asyncio.wait({task}, timeout=RESOLVE_WAIT_S)
