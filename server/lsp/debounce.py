"""Debounced, cancellable background jobs keyed by document: only the newest one runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Debouncer:
    """`schedule(key, delay, job)` runs `job()` after `delay` seconds unless a newer call for `key` came first.

    A newer call also cancels a job that has already started: its result is never delivered.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def schedule(self, key: str, delay_s: float, job: Callable[[], Awaitable[None]]) -> None:
        self.cancel(key)
        self._tasks[key] = asyncio.ensure_future(self._run_later(key, delay_s, job))

    def cancel(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    def cancel_all(self) -> None:
        for key in list(self._tasks):
            self.cancel(key)

    async def _run_later(self, key: str, delay_s: float, job: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(delay_s)
        try:
            await job()
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]
