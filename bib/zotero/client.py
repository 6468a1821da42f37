"""Connecting to Zotero through pyzotero: which library, which key, and calls that survive a bad network.

Three ways in: the Zotero Web API (`users/N` or `groups/N` plus an API key), the desktop app's
local API (`local=True`, http://localhost:23119/api, read-only here), or any other endpoint
(`--endpoint` / `CITEWISE_ZOTERO_ENDPOINT`: a self-hosted data server, or the tests' server).

`ZoteroConnection.call` runs one pyzotero call with bounded exponential backoff for 5xx answers,
timeouts and dropped connections; pyzotero itself waits out `Backoff` and 429 `Retry-After`, here
at most `MAX_SERVER_WAIT_SECONDS` (each wait announced on stderr); a server asking for longer
ends the call with one line. An answer that is not the JSON Zotero sends ends it with one line too.
zotero.org's Web API needs a key; it is checked (visible ASCII only) before any request.
The API key comes from the caller (the editor), `ZOTERO_API_KEY`, or the OS keyring when the
optional `keyring` package is installed. It never appears in a message: every error text that
leaves this module passes through `_scrub`.
"""

from __future__ import annotations

import functools
import os
import re
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx2
import pyzotero
from pyzotero import Zotero
from pyzotero._utils import MAX_RETRY_ATTEMPTS, build_url

from citewise.bib.errors import CitewiseError

T = TypeVar("T")

LOCAL_ENDPOINT = "http://127.0.0.1:23119/api"
MAX_SERVER_WAIT_SECONDS = 300
"""The longest `Retry-After`/`Backoff` citewise waits out; a server asking for more gets a clear refusal."""
_API_KEY = re.compile(r"[!-~]+")  # visible ASCII: what an HTTP header can carry
KEYRING_SERVICE = "citewise-zotero"
_LIBRARY = re.compile(r"^(users|groups)/(\d+)$")


@dataclass
class ZoteroSettings:
    """Where the library is and how patient to be with it. `api_key` never shows in repr()."""

    library: str = ""
    api_key: str | None = field(default=None, repr=False)
    local: bool = False
    endpoint: str | None = None
    collection: str | None = None
    timeout: float = 30.0
    max_attempts: int = 5
    retry_base_delay: float = 1.0
    retry_max_delay: float = 30.0

    @property
    def library_type(self) -> str:
        return parse_library(self.library)[0]

    @property
    def library_id(self) -> str:
        return parse_library(self.library)[1]

    @property
    def label(self) -> str:
        """The name the index files this library's sync state under."""
        return f"local/{self.library}" if self.local else self.library


def parse_library(text: str) -> tuple[str, str]:
    """`users/123` -> ("user", "123"); `groups/45` -> ("group", "45")."""
    match = _LIBRARY.match(text.strip().strip("/"))
    if not match:
        raise CitewiseError(f"Zotero library must look like users/123 or groups/45, not {text!r}")
    return match.group(1)[:-1], match.group(2)


def make_settings(
    library: str | None = None,
    local: bool = False,
    endpoint: str | None = None,
    api_key: str | None = None,
    collection: str | None = None,
) -> ZoteroSettings:
    """Settings from explicit values, then the environment, then the keyring."""
    library = library or ("users/0" if local else os.environ.get("CITEWISE_ZOTERO_LIBRARY", ""))
    if not library:
        raise CitewiseError("no Zotero library given: pass --library users/N (or groups/N), or --local")
    parse_library(library)
    endpoint = endpoint or os.environ.get("CITEWISE_ZOTERO_ENDPOINT") or None
    return ZoteroSettings(
        library=library,
        api_key=api_key or find_api_key(),
        local=local,
        endpoint=endpoint,
        collection=collection,
    )


def find_api_key() -> str | None:
    """`ZOTERO_API_KEY`, else the OS keyring entry (service `citewise-zotero`, user `api-key`)."""
    from_env = os.environ.get("ZOTERO_API_KEY")
    if from_env:
        return from_env
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, "api-key")
    except Exception:  # any keyring backend failure means "no key stored"
        return None


class ZoteroConnection:
    """One pyzotero client plus a request counter and the retry policy from the settings."""

    def __init__(self, settings: ZoteroSettings):
        self.settings = settings
        self.requests = 0
        library_type, library_id = parse_library(settings.library)
        _check_api_key(settings)
        http = httpx2.Client(
            follow_redirects=True,
            timeout=settings.timeout,
            verify=_tls_context(),
            trust_env=not settings.local,
            event_hooks={"request": [self._count_request]},
        )
        self.zot = _CitewiseZotero(
            library_id=library_id, library_type=library_type, api_key=settings.api_key,
            local=settings.local, client=http,
        )
        if settings.endpoint:
            self.zot.endpoint = settings.endpoint.rstrip("/")
        self.where = f"{settings.library} at {self.zot.endpoint}"

    def _count_request(self, request) -> None:
        self.requests += 1

    def close(self) -> None:
        if self.zot.client:
            self.zot.client.close()

    def __enter__(self) -> ZoteroConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def last_version(self) -> int:
        """`Last-Modified-Version` of the latest answer: the library version it reflects."""
        response = self.zot.request
        return int(response.headers.get("Last-Modified-Version", 0)) if response is not None else 0

    def call(self, operation: Callable[[Zotero], T]) -> T:
        """Run `operation(zot)`; retry server errors and network failures with growing waits."""
        attempt = 0
        while True:
            attempt += 1
            self.zot.url_params = None
            try:
                return operation(self.zot)
            except pyzotero.UserNotAuthorisedError:
                raise CitewiseError(self._refusal_message()) from None
            except pyzotero.ResourceNotFoundError:
                raise CitewiseError(
                    f"Zotero has no library {self.where} (404): check --library (users/N or groups/N)"
                ) from None
            except pyzotero.TooManyRetriesError:
                raise CitewiseError(f"Zotero at {self.where} keeps rate-limiting; try again later") from None
            except pyzotero.PreConditionFailedError:
                raise
            except (httpx2.TransportError, pyzotero.HTTPError) as error:
                if not self._is_transient(error) or attempt >= self.settings.max_attempts:
                    raise CitewiseError(self._failure_message(error, attempt)) from None
                time.sleep(self._delay(attempt, error))
            except pyzotero.PyZoteroError as error:
                raise CitewiseError(self._failure_message(error, attempt)) from None
            except (ValueError, KeyError, TypeError, AttributeError):
                raise CitewiseError(_scrub(f"Zotero at {self.where} sent an answer that is not the JSON "
                                           f"the Zotero API sends; nothing changed", self.settings)) from None

    def _is_transient(self, error: Exception) -> bool:
        if isinstance(error, httpx2.TransportError):
            return True
        response = self.zot.request
        return response is not None and response.status_code >= 500

    def _delay(self, attempt: int, error: Exception) -> float:
        """Exponential, capped, and never shorter than the server's Retry-After / Backoff."""
        delay = min(self.settings.retry_base_delay * 2 ** (attempt - 1), self.settings.retry_max_delay)
        response = self.zot.request
        if isinstance(error, pyzotero.HTTPError) and response is not None:
            asked = response.headers.get("Retry-After") or response.headers.get("Backoff")
            if asked and asked.isdigit():
                if float(asked) > MAX_SERVER_WAIT_SECONDS:
                    raise ServerWaitTooLong(f"Zotero at {self.where} asks to wait {asked} s before trying again, "
                                            f"more than the {MAX_SERVER_WAIT_SECONDS} s citewise waits; try again later")
                delay = max(delay, float(asked))
        if delay >= 5:
            sys.stderr.write(f"citewise: Zotero at {self.where} failed; trying again in {delay:.0f} s\n")
        return delay

    def _refusal_message(self) -> str:
        if self.settings.local:
            return (f"the Zotero desktop app refused access to {self.where} (403): in Zotero, tick Settings > "
                    "Advanced > \"Allow other applications on this computer to communicate with Zotero\"")
        return (f"Zotero refused access to {self.where} (403): the API key is wrong or lacks "
                "permission for this library")

    def _failure_message(self, error: Exception, attempts: int) -> str:
        if isinstance(error, httpx2.TransportError):
            reason = f"network error ({type(error).__name__})"
            if self.settings.local:
                reason += "; is the Zotero desktop app running?"
        else:
            response = self.zot.request
            reason = f"HTTP {response.status_code}" if response is not None else type(error).__name__
        return _scrub(f"Zotero at {self.where} failed after {attempts} attempt(s): {reason}", self.settings)


class ServerWaitTooLong(CitewiseError):
    """The server asked citewise to wait longer than `MAX_SERVER_WAIT_SECONDS`."""


class _CitewiseZotero(Zotero):
    """pyzotero's client with two additions: creating items with a write token the caller keeps
    (pyzotero draws a fresh token per `create_items` call, so a retried request could create the
    items twice; the same token on every attempt makes the server refuse the repeat instead),
    and server-requested waits that are capped and announced.
    """

    def _set_backoff(self, duration) -> None:
        try:
            seconds = float(duration)
        except (TypeError, ValueError):
            return  # an unreadable Backoff/Retry-After is ignored, as if absent
        if seconds > MAX_SERVER_WAIT_SECONDS:
            raise ServerWaitTooLong(f"Zotero at {self.endpoint} asks to wait {seconds:.0f} s before the next request, "
                                    f"more than the {MAX_SERVER_WAIT_SECONDS} s citewise waits; try again later")
        if seconds > 0:
            sys.stderr.write(f"citewise: Zotero asks to wait {seconds:.0f} s before the next request; waiting\n")
            sys.stderr.flush()
        super()._set_backoff(seconds)

    def create_items_with_token(self, payload: list[dict], write_token: str, last_modified: int | None):
        headers = {"Zotero-Write-Token": write_token}
        if last_modified is not None:
            headers["If-Unmodified-Since-Version"] = str(last_modified)
        url = build_url(self.endpoint, f"/{self.library_type}/{self.library_id}/items")
        for _ in range(MAX_RETRY_ATTEMPTS):
            self._check_backoff()
            self.request = self._write("POST", url=url, json=payload, headers=headers)
            self._post_check(self.request)
            if self.request.status_code != httpx2.codes.TOO_MANY_REQUESTS:
                return self.request.json()
        raise pyzotero.TooManyRetriesError("still rate-limited")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One certificate store per process: loading it costs more than a whole incremental sync."""
    return ssl.create_default_context()


def _check_api_key(settings: ZoteroSettings) -> None:
    """Before any request: zotero.org's Web API needs a key (a self-hosted `endpoint` may not), and a
    key is visible ASCII (never shown)."""
    if settings.local:
        return
    if not settings.api_key and not settings.endpoint:
        raise CitewiseError(f"Zotero needs an API key for {settings.library}: set ZOTERO_API_KEY (create one at "
                            f"https://www.zotero.org/settings/keys) or store it in the keyring "
                            f"(service {KEYRING_SERVICE}, user api-key)")
    if settings.api_key and not _API_KEY.fullmatch(settings.api_key):
        raise CitewiseError("the Zotero API key holds characters no API key has (keys are letters and digits: "
                            "a space, a line break or an accent slipped in?); check ZOTERO_API_KEY or the keyring")


def _scrub(text: str, settings: ZoteroSettings) -> str:
    """The text with the API key blanked out, whatever produced it."""
    if settings.api_key:
        text = text.replace(settings.api_key, "<api key>")
    return text
