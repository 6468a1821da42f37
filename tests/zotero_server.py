"""A Zotero Web API v3 server for tests: the part citewise uses, on 127.0.0.1, with faults on demand.

It keeps one library in memory and answers the way api.zotero.org does:
`Zotero-API-Version` and `Last-Modified-Version` on every response; `since`, `format=json|versions|keys`,
`itemKey` (at most 50), `includeTrashed`, `q`/`qmode`, `limit` (at most 100) and `start` with
`Total-Results` and `Link: rel="next"`; `If-Modified-Since-Version` -> 304; `/deleted?since=`;
`POST /items` with the real write-response shape, `Zotero-Write-Token` (a reused token -> 412) and
`If-Unmodified-Since-Version` (an older version -> 412); `/collections`; 403 for a wrong API key and
404 for a library it does not hold. Serving under `/api` too, it stands in for the desktop app
(with `Zotero-Server-ID` when `server_id` is set).

Faults are queued on the server (`server.faults.append(Fault(...))`): an error status with
`Retry-After`, a `Backoff` header on a good answer, a connection dropped halfway through the body,
a library change that lands just before a write, a connection dropped after a write is applied, an answer that comes too late,
a raw body of the fault's choosing (garbage, the wrong JSON shape), an answer without `Content-Type`.
Every request is recorded in `server.requests`.
"""

from __future__ import annotations

import copy
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

KEY_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
MAX_ITEM_KEYS = 50
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_WRITE_OBJECTS = 50
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zotero"
CHILD_TYPES = {"note", "attachment", "annotation"}


@dataclass
class Fault:
    """One injected misbehaviour, used by the first request whose `METHOD path?query` contains `match`."""

    match: str = ""
    status: int = 0
    retry_after: str | None = None
    backoff: str | None = None
    drop: bool = False
    race: bool = False
    drop_after_write: bool = False
    delay: float = 0.0
    times: int = 1
    body: str | None = None
    """A raw answer body (status `status` or 200) instead of the library's answer."""
    no_content_type: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class ZoteroLibrary:
    """The library's state: items by key with versions, deletions, collections, used write tokens."""

    library_type: str = "users"
    library_id: int = 1
    name: str = "testuser"
    version: int = 0
    items: dict[str, dict] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    collections: dict[str, dict] = field(default_factory=dict)
    used_write_tokens: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def prefix(self) -> str:
        return f"{self.library_type}/{self.library_id}"

    def new_key(self) -> str:
        while True:
            key = "".join(random.choices(KEY_ALPHABET, k=8))
            if key not in self.items and key not in self.deleted:
                return key

    def add_items(self, datas: list[dict]) -> list[str]:
        """Store items as one library change (one new version); keys kept when given."""
        with self.lock:
            self.version += 1
            keys = []
            for data in datas:
                stored = copy.deepcopy(data)
                stored["key"] = stored.get("key") or self.new_key()
                stored["version"] = self.version
                stored.setdefault("dateAdded", "2026-01-01T00:00:00Z")
                stored.setdefault("dateModified", "2026-01-01T00:00:00Z")
                stored.setdefault("tags", [])
                stored.setdefault("collections", [])
                stored.setdefault("relations", {})
                self.items[stored["key"]] = stored
                self.deleted.pop(stored["key"], None)
                keys.append(stored["key"])
            return keys

    def update_item(self, key: str, **fields) -> None:
        with self.lock:
            self.version += 1
            self.items[key].update(fields)
            self.items[key]["version"] = self.version

    def trash_item(self, key: str) -> None:
        self.update_item(key, deleted=1)

    def delete_item(self, key: str) -> None:
        with self.lock:
            self.version += 1
            del self.items[key]
            self.deleted[key] = self.version

    def add_collection(self, name: str, key: str | None = None) -> str:
        with self.lock:
            self.version += 1
            key = key or self.new_key()
            self.collections[key] = {"key": key, "version": self.version, "name": name,
                                     "parentCollection": False, "relations": {}}
            return key

    def top_level_items(self, include_trashed: bool = True) -> dict[str, dict]:
        return {
            key: data
            for key, data in self.items.items()
            if not data.get("parentItem") and (include_trashed or not data.get("deleted"))
        }

    def child_counts(self) -> Counter:
        return Counter(d["parentItem"] for d in self.items.values() if d.get("parentItem"))

    def object_for(self, data: dict, base_url: str, child_counts: Counter | None = None) -> dict:
        """The full JSON object the API returns for an item: key, version, library, links, meta, data."""
        item_url = f"{base_url}/{self.prefix}/items/{data['key']}"
        children = (child_counts if child_counts is not None else self.child_counts())[data["key"]]
        creators = data.get("creators") or []
        meta = {"numChildren": children}
        if creators:
            meta["creatorSummary"] = creators[0].get("lastName") or creators[0].get("name", "")
        return {
            "key": data["key"],
            "version": data["version"],
            "library": {"type": self.library_type[:-1], "id": self.library_id, "name": self.name,
                        "links": {"alternate": {"href": f"https://www.zotero.org/{self.name}",
                                                "type": "text/html"}}},
            "links": {"self": {"href": item_url, "type": "application/json"},
                      "alternate": {"href": f"https://www.zotero.org/{self.name}/items/{data['key']}",
                                    "type": "text/html"}},
            "meta": meta,
            "data": copy.deepcopy(data),
        }


def load_recorded_items(path: Path) -> list[dict]:
    """The `data` objects of a recorded `GET …/items` response (a JSON array of item objects)."""
    return [obj["data"] for obj in json.loads(Path(path).read_text(encoding="utf-8"))]


def synthetic_item(number: int) -> dict:
    """A plausible journal article; numbers give distinct titles, authors, DOIs."""
    surnames = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Iyer", "Brennan"]
    topics = ["graph", "kernel", "sparse", "causal", "spectral", "latent", "robust", "neural"]
    words = [topics[(number // 8 ** i) % 8] for i in range(4)]
    return {
        "itemType": "journalArticle",
        "title": f"{' '.join(words).capitalize()} methods for problem {number}",
        "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": surnames[number % 8]},
                     {"creatorType": "author", "firstName": "Ben", "lastName": surnames[(number // 8) % 8]}],
        "abstractNote": f"We study problem {number} with {words[0]} and {words[1]} techniques.",
        "publicationTitle": "Journal of Synthetic Results",
        "volume": str(1 + number % 40),
        "pages": f"{number % 900 + 1}-{number % 900 + 12}",
        "date": str(1990 + number % 35),
        "DOI": f"10.5555/synth.{number}",
        "extra": f"Citation Key: synth{number}" if number % 3 == 0 else "",
        "tags": [{"tag": words[2]}],
    }


def _known_item_fields() -> tuple[set[str], set[str]]:
    item_types = {t["itemType"] for t in json.loads((FIXTURES / "item_types.json").read_text())}
    fields = {f["field"] for f in json.loads((FIXTURES / "item_fields.json").read_text())}
    item_types |= {"preprint"}  # newer than the recorded list (Zotero 6 schema)
    fields |= {"repository", "archiveID", "itemType", "creators", "tags", "collections", "relations", "key", "version",
               "dateAdded", "dateModified", "deleted", "parentItem", "note", "citationKey"}
    return item_types, fields


class ZoteroTestServer:
    """A threaded HTTP server on 127.0.0.1 (random port) serving one `ZoteroLibrary`."""

    def __init__(self, library: ZoteroLibrary | None = None, *, api_key: str | None = None,
                 write_access: bool = True, request_delay: float = 0.0):
        self.library = library or ZoteroLibrary()
        self.api_key = api_key
        self.write_access = write_access
        self.request_delay = request_delay
        self.server_id: str | None = None
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.item_types, self.item_fields = _known_item_fields()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ZoteroTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ZoteroTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def requests_matching(self, text: str) -> list[RecordedRequest]:
        return [r for r in self.requests if text in f"{r.method} {r.path}?{urlencode(r.query)}"]

    def take_fault(self, description: str) -> Fault | None:
        with self.library.lock:
            for fault in self.faults:
                if fault.match in description:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(value, status: int = 200, **headers: str) -> _Reply:
    return _Reply(status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers})


def _text_reply(text: str, status: int, **headers: str) -> _Reply:
    return _Reply(status, text.encode(), {"Content-Type": "text/plain", **headers})


def _handler_for(server: ZoteroTestServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, *args) -> None:
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parsed = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
            path = parsed.path[4:] if parsed.path.startswith("/api/") else parsed.path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            record = RecordedRequest(method, parsed.path, query, dict(self.headers), time.monotonic())
            server.requests.append(record)
            if server.request_delay:
                time.sleep(server.request_delay)
            fault = server.take_fault(f"{method} {path}?{urlencode(query)}")
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.race:
                _touch_library(server.library)
            if fault and fault.body is not None:
                reply = _Reply(fault.status or 200, fault.body.encode(), {"Content-Type": "application/json"})
            elif fault and fault.status:
                reply = _text_reply("Injected failure", fault.status)
                if fault.retry_after:
                    reply.headers["Retry-After"] = fault.retry_after
            else:
                reply = _route(server, method, path, query, self.headers, body)
            reply.headers.setdefault("Zotero-API-Version", "3")
            if server.server_id and parsed.path.startswith("/api/"):
                reply.headers["Zotero-Server-ID"] = server.server_id
            if fault and fault.backoff:
                reply.headers["Backoff"] = fault.backoff
            if fault and fault.no_content_type:
                reply.headers.pop("Content-Type", None)
            record.status = reply.status
            self._send(reply, drop=bool(fault and (fault.drop or fault.drop_after_write)))

        def _send(self, reply: _Reply, drop: bool) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if drop:
                self.wfile.write(reply.body[: len(reply.body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(reply.body)
            self.wfile.flush()

    return Handler


def _touch_library(library: ZoteroLibrary) -> None:
    """Someone else edits the library: the version moves on."""
    with library.lock:
        if library.items:
            key = next(iter(library.items))
            library.update_item(key, dateModified="2026-02-02T00:00:00Z")
        else:
            library.version += 1


_LIBRARY_PATH = re.compile(r"^/(users|groups)/(\d+)(/.*)?$")


def _route(server: ZoteroTestServer, method: str, path: str, query: dict, headers, body: bytes) -> _Reply:
    library = server.library
    if server.api_key is not None:
        sent = headers.get("Zotero-API-Key") or (headers.get("Authorization") or "").removeprefix("Bearer ")
        if sent != server.api_key:
            return _text_reply("Forbidden", 403)
    match = _LIBRARY_PATH.match(path)
    if not match or (match.group(1), int(match.group(2))) != (library.library_type, library.library_id):
        return _text_reply("Not found", 404)
    rest = (match.group(3) or "/").rstrip("/")
    with library.lock:
        version_headers = {"Last-Modified-Version": str(library.version)}
        if method == "POST":
            if rest != "/items":
                return _text_reply("Method not allowed", 405)
            if not server.write_access:
                return _text_reply("Write access denied", 403)
            return _write_items(server, headers, body)
        since_check = headers.get("If-Modified-Since-Version")
        if since_check is not None and library.version <= int(since_check):
            return _Reply(304, b"", version_headers)
        if rest == "/deleted":
            return _deleted(library, query, version_headers)
        if rest == "/collections":
            return _list(server, rest, query, list(library.collections.values()), version_headers,
                         lambda c: {"key": c["key"], "version": c["version"], "data": c, "meta": {}})
        if rest.startswith("/collections/"):
            collection = library.collections.get(rest.split("/")[2].upper())
            if not collection:
                return _text_reply("Collection not found", 404)
            return _json_reply({"key": collection["key"], "version": collection["version"],
                                "data": collection, "meta": {}}, **version_headers)
        if rest in ("/items", "/items/top"):
            return _items(server, rest, query, version_headers)
        if rest.startswith("/items/"):
            data = library.items.get(rest.split("/")[2].upper())
            if not data:
                return _text_reply("Item not found", 404)
            return _json_reply(library.object_for(data, server.url), **version_headers)
    return _text_reply("Not found", 404)


def _items(server: ZoteroTestServer, rest: str, query: dict, version_headers: dict) -> _Reply:
    library = server.library
    include_trashed = query.get("includeTrashed") == "1"
    if "itemKey" in query:
        keys = [k for k in query["itemKey"].split(",") if k]
        if len(keys) > MAX_ITEM_KEYS:
            return _text_reply(f"Cannot specify more than {MAX_ITEM_KEYS} item keys", 400)
        pool = {k: library.items[k] for k in keys if k in library.items}
    else:
        pool = library.items
    pool = {
        k: d for k, d in pool.items()
        if (include_trashed or not d.get("deleted")) and not (rest == "/items/top" and d.get("parentItem"))
    }
    since = int(query.get("since") or 0)
    selected = [d for d in pool.values() if d["version"] > since]
    if query.get("q"):
        selected = [d for d in selected if _matches(d, query["q"], query.get("qmode", "titleCreatorYear"))]
    selected.sort(key=lambda d: (-d["version"], d["key"]))
    fmt = query.get("format", "json")
    if fmt == "versions" and "limit" not in query:
        return _json_reply({d["key"]: d["version"] for d in selected}, **version_headers,
                           **{"Total-Results": str(len(selected))})
    if fmt == "keys" and "limit" not in query:
        return _text_reply("\n".join(d["key"] for d in selected) + "\n", 200, **version_headers,
                           **{"Total-Results": str(len(selected))})
    counts = library.child_counts()
    return _list(server, rest, query, selected, version_headers,
                 lambda d: library.object_for(d, server.url, counts))


def _list(server: ZoteroTestServer, path: str, query: dict, objects: list, version_headers: dict,
          render) -> _Reply:
    """One page of a multi-object answer with `Total-Results` and `Link`."""
    try:
        limit = min(int(query.get("limit") or DEFAULT_LIMIT), MAX_LIMIT)
        start = int(query.get("start") or 0)
    except ValueError:
        return _text_reply("Invalid limit or start", 400)
    page = objects[start:start + limit]
    headers = {**version_headers, "Total-Results": str(len(objects))}
    links = []
    base = f"{server.url}/{server.library.prefix}{path}"
    if start + limit < len(objects):
        links.append(f'<{_page_url(base, query, start + limit)}>; rel="next"')
        last = (len(objects) - 1) // limit * limit
        links.append(f'<{_page_url(base, query, last)}>; rel="last"')
    if links:
        headers["Link"] = ", ".join(links)
    fmt = query.get("format", "json")
    if fmt == "versions":
        return _json_reply({o["key"]: o["version"] for o in page}, **headers)
    if fmt == "keys":
        return _text_reply("\n".join(o["key"] for o in page) + "\n", 200, **headers)
    return _json_reply([render(o) for o in page], **headers)


def _page_url(base: str, query: dict, start: int) -> str:
    return f"{base}?{urlencode({**query, 'start': str(start)})}"


def _matches(data: dict, q: str, qmode: str) -> bool:
    """Zotero quick search: every word of `q` occurs in title/creators/year, or in any field."""
    names = " ".join(f"{c.get('firstName', '')} {c.get('lastName', '')} {c.get('name', '')}"
                     for c in data.get("creators") or [])
    if qmode == "everything":
        haystack = " ".join(str(v) for k, v in data.items() if isinstance(v, str)) + " " + names
    else:
        haystack = f"{data.get('title', '')} {names} {data.get('date', '')}"
    haystack = haystack.lower()
    return all(word in haystack for word in q.lower().split())


def _deleted(library: ZoteroLibrary, query: dict, version_headers: dict) -> _Reply:
    if "since" not in query:
        return _text_reply("'since' parameter must be provided", 400)
    since = int(query["since"])
    items = sorted(key for key, version in library.deleted.items() if version > since)
    return _json_reply({"collections": [], "searches": [], "items": items, "tags": [], "settings": []},
                       **version_headers)


def _write_items(server: ZoteroTestServer, headers, body: bytes) -> _Reply:
    library = server.library
    token = headers.get("Zotero-Write-Token")
    if token and token in library.used_write_tokens:
        return _text_reply("Write token already used", 412)
    expected = headers.get("If-Unmodified-Since-Version")
    if expected is not None and library.version > int(expected):
        return _text_reply(f"Library has been modified since specified version (expected {expected}, "
                           f"found {library.version})", 412)
    try:
        objects = json.loads(body)
    except ValueError:
        return _text_reply("Invalid JSON", 400)
    if not isinstance(objects, list):
        return _text_reply("Uploaded data must be a JSON array", 400)
    if len(objects) > MAX_WRITE_OBJECTS:
        return _text_reply(f"Only {MAX_WRITE_OBJECTS} objects can be written at a time", 413)
    result = {"successful": {}, "success": {}, "unchanged": {}, "failed": {}}
    accepted: list[tuple[str, dict]] = []
    for position, obj in enumerate(objects):
        problem = _invalid_item(server, obj)
        if problem:
            result["failed"][str(position)] = {"key": obj.get("key", ""), "code": 400, "message": problem}
            continue
        existing = library.items.get(obj.get("key", ""))
        if existing and all(existing.get(k) == v for k, v in obj.items() if k != "version"):
            result["unchanged"][str(position)] = existing["key"]
            continue
        accepted.append((str(position), {**(existing or {}), **obj}))
    if accepted:
        keys = library.add_items([data for _, data in accepted])
        for (position, _), key in zip(accepted, keys):
            result["success"][position] = key
            result["successful"][position] = library.object_for(library.items[key], server.url)
        if token:
            library.used_write_tokens.add(token)
    return _json_reply(result, **{"Last-Modified-Version": str(library.version)})


def _invalid_item(server: ZoteroTestServer, obj) -> str | None:
    if not isinstance(obj, dict):
        return "Item must be an object"
    if obj.get("itemType") not in server.item_types:
        return f"'{obj.get('itemType')}' is not a valid itemType"
    unknown = sorted(set(obj) - server.item_fields)
    if unknown:
        return f"'{unknown[0]}' is not a valid field for type '{obj['itemType']}'"
    for collection in obj.get("collections", []):
        if collection not in server.library.collections:
            return f"Collection {collection} doesn't exist"
    return None
