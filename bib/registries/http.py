"""Talking to the registries politely: base URLs, rate limits, retries, the cache, offline mode.

`RegistryHTTP.fetch(registry, path, params, parse)` is the only way citewise reaches a
registry. It answers from the cache when it can; otherwise it waits for the registry's rate
limit, sends the request, and retries 429/5xx answers, timeouts, dropped connections and
malformed bodies with exponential backoff (honouring `Retry-After` up to a bound), then raises
`RegistryUnavailable`, which callers report as `unverifiable`. A `Retry-After` holds back every
thread's next request to that registry, not only the one that was told. A 404 (or 400 for a malformed
id) is an answer, "no such work", and is cached too. With `offline=True` nothing leaves the
machine: an answer not in the cache raises `RegistryUnavailable` at once.

Base URLs come from `CITEWISE_<REGISTRY>_URL` (tests and offline mirrors point them at
127.0.0.1). `mailto` (`$CITEWISE_MAILTO`) joins Crossref's and OpenAlex's polite pools.
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx2

from citewise.bib.errors import CitewiseError
from citewise.bib.registries.cache import ResponseCache

T = TypeVar("T")

DEFAULT_URLS = {
    "crossref": "https://api.crossref.org",
    "datacite": "https://api.datacite.org",
    "arxiv": "https://export.arxiv.org/api",
    "openalex": "https://api.openalex.org",
    "openlibrary": "https://openlibrary.org",
    "pubmed": "https://eutils.ncbi.nlm.nih.gov/entrez/eutils",
}
MIN_INTERVAL = {"crossref": 0.1, "datacite": 0.1, "arxiv": 3.0, "openalex": 0.1, "openlibrary": 0.5, "pubmed": 0.34}
"""Seconds between two requests to one public registry: each one's documented limit (arXiv asks
for one request every 3 seconds, NCBI for 3 a second without a key, the others allow about 10).
A base URL set through `CITEWISE_<NAME>_URL` (a mirror) is not paced; `Retry-After` still is."""
POLITE_POOL = ("crossref", "openalex")


class RegistryUnavailable(CitewiseError):
    """The registry could not give an answer (offline, timeouts, errors): the lookup is unverifiable."""


@dataclass
class RegistrySettings:
    urls: dict[str, str] = field(default_factory=dict)
    mailto: str = ""
    offline: bool = False
    timeout: float = 10.0
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 30.0
    """A `Retry-After` longer than this is not waited out: the lookup becomes unverifiable."""
    min_interval: dict[str, float] = field(default_factory=lambda: dict(MIN_INTERVAL))

    @classmethod
    def from_environment(cls, offline: bool = False, mailto: str | None = None) -> RegistrySettings:
        urls = {name: os.environ.get(f"CITEWISE_{name.upper()}_URL") or url for name, url in DEFAULT_URLS.items()}
        paced = {name: interval if urls[name] == DEFAULT_URLS[name] else 0.0 for name, interval in MIN_INTERVAL.items()}
        mailto = mailto if mailto is not None else os.environ.get("CITEWISE_MAILTO", "")
        return cls(urls=urls, mailto=mailto, offline=offline, min_interval=paced)

    def url(self, registry: str) -> str:
        return (self.urls.get(registry) or DEFAULT_URLS[registry]).rstrip("/")


class RegistryHTTP:
    """One HTTP client for every registry, safe to share between threads."""

    def __init__(self, settings: RegistrySettings, cache: ResponseCache | None = None):
        self.settings = settings
        self.cache = cache or ResponseCache(None)
        self.requests: Counter[str] = Counter()
        """Requests actually sent, per registry (cache hits not counted)."""
        agent = "citewise/0.1 (https://github.com/citewise/citewise" + (f"; mailto:{settings.mailto})" if settings.mailto else ")")
        self._client = httpx2.Client(timeout=settings.timeout, follow_redirects=True, headers={"User-Agent": agent})
        self._gates = {name: _Gate() for name in DEFAULT_URLS}

    def close(self) -> None:
        self._client.close()
        self.cache.close()

    def fetch(self, registry: str, path: str, params: dict[str, str], parse: Callable[[int, str], T]) -> T:
        """`parse(status, body)` of the registry's answer to GET `path?params`.

        `parse` receives 200, 400 and 404 answers; it raises ValueError for a body it cannot read
        (retried like a server error). Raises RegistryUnavailable when no answer could be had.
        """
        url = str(httpx2.URL(self.settings.url(registry) + path, params=params))
        cached = self.cache.get(url)
        if cached is not None:
            try:
                return parse(cached.status, cached.body)
            except ValueError:
                pass
        if self.settings.offline:
            raise RegistryUnavailable(f"{registry}: offline, and no cached answer")
        send_params = dict(params)
        if self.settings.mailto and registry in POLITE_POOL:
            send_params["mailto"] = self.settings.mailto
        problem = "no answer"
        for attempt in range(self.settings.max_attempts):
            self._gates[registry].wait(self.settings.min_interval.get(registry, 0.0))
            delay = min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
            try:
                self.requests[registry] += 1
                response = self._client.get(self.settings.url(registry) + path, params=send_params)
            except httpx2.TransportError as error:
                problem = f"{type(error).__name__}"
            else:
                status = response.status_code
                if status in (200, 400, 404):
                    try:
                        value = parse(status, response.text)
                    except ValueError as error:
                        problem = f"unreadable answer ({error})"
                    else:
                        self.cache.put(url, status, response.text, "found" if status == 200 else "missing")
                        return value
                else:
                    problem = f"HTTP {status}"
                    wait = _retry_after(response.headers.get("Retry-After"))
                    if wait is not None:
                        if wait > self.settings.retry_after_max:
                            break
                        delay = max(delay, wait)
                        self._gates[registry].hold(wait, time.monotonic())  # the other threads wait too
            if attempt + 1 < self.settings.max_attempts:
                time.sleep(delay)
        raise RegistryUnavailable(f"{registry}: {problem}")


class _Gate:
    """Spaces requests to one registry at least `interval` seconds apart, across threads, and
    holds them all back while the registry's `Retry-After` runs."""

    def __init__(self):
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, interval: float) -> None:
        pause = self.reserve(interval, time.monotonic())
        if pause > 0:
            time.sleep(pause)

    def reserve(self, interval: float, now: float) -> float:
        """Book the next request's slot: the seconds from `now` until it may be sent."""
        with self._lock:
            start = max(now, self._next)
            self._next = start + interval
        return start - now

    def hold(self, seconds: float, now: float) -> None:
        """No request before `now + seconds` (a `Retry-After`)."""
        with self._lock:
            self._next = max(self._next, now + seconds)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
