"""The `verify` setting in the editor: registry checks after each diagnostics publication.

After each diagnostics publication for a document (with `verify` on), the cited entries not yet
checked are sent to the registries on the `registries` lane (never the features thread, so
completion does not wait on the network; see features/background.py); when answers arrive the
document's diagnostics are published again, now with the findings. `citewise.addFromIdentifier`
(lsp/commands.py) resolves the identifier the user chose on the same lane.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from citewise.server.features import reference_checks
from citewise.server.lsp.server import CitewiseServer

_RUNNING: set[asyncio.Task] = set()


def schedule_verification(ls: CitewiseServer, uri: str, republish: Callable[[], Awaitable[None]]) -> None:
    """Check `uri`'s new entries in the background, then `republish()` its diagnostics."""
    if ls.settings is None or not ls.settings.verify:
        return
    task = asyncio.ensure_future(_verify(ls, uri, republish))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def _verify(ls: CitewiseServer, uri: str, republish: Callable[[], Awaitable[None]]) -> None:
    pending = await ls.run(reference_checks.entries_to_check, uri, fallback=[])
    if not pending:
        return
    checked = await ls.run(reference_checks.check_entries, pending, fallback=0, lane="registries")
    if checked:
        await republish()
