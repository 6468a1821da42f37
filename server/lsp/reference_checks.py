"""The `verify` setting in the editor: registry checks after diagnostics, and the "Add from …" command.

After each diagnostics publication for a document (with `verify` on), the cited entries not yet
checked are sent to the registries on the `registries` lane (never the features thread, so
completion does not wait on the network; see features/background.py); when answers arrive the document's diagnostics are
published again, now with the findings. `citewise.addFromIdentifier` resolves a DOI or arXiv id
the user chose, adds its entry to the .bib (a workspace/applyEdit of its own) and cites it.
"""

from __future__ import annotations

import asyncio

from citewise.server.features import reference_checks
from citewise.server.lsp.server import CitewiseServer

_RUNNING: set[asyncio.Task] = set()


def schedule_verification(ls: CitewiseServer, uri: str) -> None:
    """Check `uri`'s new entries in the background, then publish its diagnostics again."""
    if ls.settings is None or not ls.settings.verify:
        return
    task = asyncio.ensure_future(_verify(ls, uri))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def _verify(ls: CitewiseServer, uri: str) -> None:
    from citewise.server.lsp.documents import publish_diagnostics

    refs = await ls.run(reference_checks.entries_to_check, uri, fallback=[])
    if not refs:
        return
    checked = await ls.run(reference_checks.check_entries, refs, fallback=0, lane="registries")
    if checked:
        await publish_diagnostics(ls, uri, with_bib_files=True, verify=False)


async def add_from_identifier(ls: CitewiseServer, *args) -> dict:
    """[uri, line, identifier] -> {"applied": bool}: the entry added to the .bib, the identifier cited."""
    from citewise.server.lsp.commands import _expect, apply_edits

    uri, line, value = _expect(args, reference_checks.ADD_FROM_IDENTIFIER, "uri, line, identifier", 3)
    resolution = await ls.run_strict(reference_checks.resolve_identifier, value, lane="registries")
    edits = await ls.run_strict(reference_checks.identifier_edits, uri, line, value, resolution.reference)
    bib_edits = {path: file_edits for path, file_edits in edits.items() if path.lower().endswith(".bib")}
    if bib_edits and not (await apply_edits(ls, bib_edits, f"Add {resolution.reference.key} to the .bib"))["applied"]:
        return {"applied": False}
    draft_edits = {path: file_edits for path, file_edits in edits.items() if path not in bib_edits}
    return await apply_edits(ls, draft_edits, f"Cite {resolution.reference.key}")
