"""Work-done progress driven from the background lanes: begin, throttled reports, end, cancellation.

When the client cannot show progress (no `window.workDoneProgress` and no token of its
own in the request) every call is a no-op, so feature code reports progress unconditionally.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from citewise.server.lsp.server import CitewiseServer

REPORT_INTERVAL_S = 0.2


class WorkDone:
    """One progress bar. `report`, `end` and `is_cancelled` are safe to call from any thread."""

    def __init__(self, server: CitewiseServer, token: types.ProgressToken | None):
        self._server = server
        self.token = token
        self._last_report = 0.0
        self._last_percent: int | None = None

    @classmethod
    async def begin(
        cls, server: CitewiseServer, title: str, *, cancellable: bool = False, token: types.ProgressToken | None = None
    ) -> WorkDone:
        """Start a progress bar: the client's own token, else one created with window/workDoneProgress/create."""
        if token is None and server.client_flags.work_done_progress:
            token = f"citewise-{uuid.uuid4()}"
            # Registered before asking: the user's cancel may overtake the client's reply.
            server.work_done_progress.tokens[token] = Future()
            try:
                await server.window_work_done_progress_create_async(types.WorkDoneProgressCreateParams(token=token))
            except Exception as error:  # the client refused; work goes on without a bar
                server.log(f"progress for {title!r} not shown: {error}")
                server.work_done_progress.tokens.pop(token, None)
                token = None
        progress = cls(server, token)
        if token is not None:
            server.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, cancellable=cancellable, percentage=0)
            )
        return progress

    def report(self, message: str, percent: int | None = None) -> None:
        if self.token is None:
            return
        now = time.monotonic()
        if percent == self._last_percent and now - self._last_report < REPORT_INTERVAL_S:
            return
        self._last_report, self._last_percent = now, percent
        value = types.WorkDoneProgressReport(message=message, percentage=_clamp_percent(percent))
        self._server.call_in_loop(self._server.work_done_progress.report, self.token, value)

    def end(self, message: str) -> None:
        if self.token is None:
            return
        self._server.call_in_loop(self._server.work_done_progress.end, self.token, types.WorkDoneProgressEnd(message=message))
        self._server.call_in_loop(self._server.work_done_progress.tokens.pop, self.token, None)

    def is_cancelled(self) -> bool:
        future = self._server.work_done_progress.tokens.get(self.token) if self.token is not None else None
        return future is not None and future.cancelled()


def _clamp_percent(percent: int | None) -> int | None:
    return None if percent is None else max(0, min(100, int(percent)))
