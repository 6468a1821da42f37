"""The scholarly registries on 127.0.0.1, answering from recorded responses in each API's format.

One server, one path prefix per registry, so `CITEWISE_<NAME>_URL=http://127.0.0.1:PORT/<name>`:

- `/crossref/works/{doi}` (the recorded body, verbatim; else 404 "Resource not found.") and
  `/crossref/works?query.bibliographic=&query.author=&rows=` (a `work-list` of the recorded works
  sharing at least half the query's title words, most alike first, as Crossref's relevance search does);
- `/datacite/dois/{doi}` (recorded body; else DataCite's 404 JSON);
- `/arxiv/query?id_list=` and `?search_query=ti:"…"` (an Atom feed of the recorded entries; an
  unknown id gives an empty feed, a malformed one arXiv's error entry with HTTP 400);
- `/openalex/works/doi:{doi}` or `/works/https://doi.org/{doi}` (recorded body; else 404);
- `/openlibrary/api/books?bibkeys=ISBN:…&jscmd=data&format=json` (`{}` when unknown);
- `/pubmed/esummary.fcgi?db=pubmed&id=…` (eSummaryResult XML with the recorded DocSums).

Records come from a folder laid out like `tests/fixtures/registries` (see its SOURCES.md).
Faults are queued on `server.faults`: an error status with `Retry-After`, a hung connection
(an answer later than the client waits), a malformed body. Every request is recorded in
`server.requests`. Run as a script to serve a folder: `python tests/registry_server.py DIR`.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import unicodedata
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "registries"
REGISTRIES = ("crossref", "datacite", "arxiv", "openalex", "openlibrary", "pubmed")
ATOM = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
ElementTree.register_namespace("", ATOM)
ElementTree.register_namespace("arxiv", ARXIV_NS)
ElementTree.register_namespace("opensearch", "http://a9.com/-/spec/opensearch/1.1/")


@dataclass
class Fault:
    """A misbehaviour for the next `times` requests whose path contains `match`."""

    match: str = ""
    status: int = 0
    retry_after: str | None = None
    hang: float = 0.0
    malformed: bool = False
    times: int = 1


def words(text: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", ascii_text)


class Records:
    """Everything the server knows, loaded from a fixtures folder."""

    def __init__(self, folder: Path = FIXTURES):
        self.crossref_bodies: dict[str, str] = {}
        self.crossref_items: dict[str, dict] = {}
        self.datacite: dict[str, str] = {}
        self.openalex: dict[str, str] = {}
        self.arxiv: dict[str, ElementTree.Element] = {}
        self.openlibrary: dict[str, dict] = {}
        self.pubmed: dict[str, ElementTree.Element] = {}
        for file in sorted((folder / "crossref").glob("*.json")):
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("message-type") == "work":
                doi = data["message"]["DOI"].lower()
                self.crossref_bodies[doi] = file.read_text(encoding="utf-8")
                self.crossref_items[doi] = data["message"]
            else:
                for item in data["message"]["items"]:
                    self.crossref_items.setdefault(item["DOI"].lower(), item)
        for file in sorted((folder / "datacite").glob("*.json")):
            body = file.read_text(encoding="utf-8")
            self.datacite[json.loads(body)["data"]["attributes"]["doi"].lower()] = body
        for file in sorted((folder / "openalex").glob("*.json")):
            body = file.read_text(encoding="utf-8")
            doi = (json.loads(body).get("doi") or "").lower().replace("https://doi.org/", "")
            self.openalex[doi] = body
        for file in sorted((folder / "arxiv").glob("*.xml")):
            root = ElementTree.fromstring(file.read_bytes())
            for entry in root.findall(f"{{{ATOM}}}entry"):
                entry_id = entry.findtext(f"{{{ATOM}}}id", "")
                if "/abs/" in entry_id:
                    self.arxiv.setdefault(re.sub(r"v\d+$", "", entry_id.split("/abs/", 1)[1]), entry)
        for file in sorted((folder / "openlibrary").glob("*.json")):
            self.openlibrary.update(json.loads(file.read_text(encoding="utf-8")))
        for file in sorted((folder / "pubmed").glob("*.xml")):
            for summary in ElementTree.fromstring(file.read_bytes()).findall("DocSum"):
                self.pubmed[summary.findtext("Id", "")] = summary


class RegistryServer:
    def __init__(self, records: Records | None = None):
        self.records = records or Records()
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        """The most requests this server was answering at once (reset it with `requests`)."""
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """`CITEWISE_<NAME>_URL` for every registry, pointing here."""
        return {f"CITEWISE_{name.upper()}_URL": f"{self.url}/{name}" for name in REGISTRIES}

    def count(self, registry: str | None = None) -> int:
        return sum(1 for line in self.requests if registry is None or line.startswith(f"/{registry}/"))

    def start(self) -> RegistryServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def take_fault(self, target: str) -> Fault | None:
        with self._lock:
            self.requests.append(target)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            for fault in self.faults:
                if fault.match in target and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
        """(status, content type, body) for one request."""
        registry, _, rest = path.lstrip("/").partition("/")
        handler = getattr(self, f"_{registry}", None)
        if handler is None:
            return 404, "text/plain", "no such registry"
        return handler("/" + rest, {name: values[0] for name, values in query.items()})

    def _crossref(self, path: str, query: dict) -> tuple[int, str, str]:
        if path.startswith("/works/"):
            doi = unquote(path[len("/works/"):]).lower()
            if doi in self.records.crossref_bodies:
                return 200, "application/json", self.records.crossref_bodies[doi]
            if doi in self.records.crossref_items:
                work = {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": self.records.crossref_items[doi]}
                return 200, "application/json", json.dumps(work)
            return 404, "text/plain", "Resource not found."
        if path == "/works":
            wanted = set(words(query.get("query.bibliographic", "")))
            author = set(words(query.get("query.author", "")))
            scored = []
            for item in self.records.crossref_items.values():
                have = set(words(" ".join(item.get("title", [""]))))
                names = set(words(" ".join(a.get("family", "") or a.get("name", "") for a in item.get("author", []))))
                score = len(wanted & have) / max(len(wanted | have), 1) + 0.1 * bool(author & names)
                if len(wanted & have) >= len(wanted) / 2:
                    scored.append((-score, item["DOI"], item))
            rows = int(query.get("rows", "20"))
            items = [item for _, _, item in sorted(scored, key=lambda row: row[:2])[:rows]]
            message = {"facets": {}, "total-results": len(scored), "items": items, "items-per-page": rows, "query": {"start-index": 0, "search-terms": query.get("query.bibliographic")}}
            return 200, "application/json", json.dumps({"status": "ok", "message-type": "work-list", "message-version": "1.0.0", "message": message})
        return 404, "text/plain", "Resource not found."

    def _datacite(self, path: str, query: dict) -> tuple[int, str, str]:
        doi = unquote(path[len("/dois/"):]).lower() if path.startswith("/dois/") else ""
        if doi in self.records.datacite:
            return 200, "application/vnd.api+json", self.records.datacite[doi]
        return 404, "application/vnd.api+json", json.dumps({"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]})

    def _openalex(self, path: str, query: dict) -> tuple[int, str, str]:
        doi = unquote(path)
        for prefix in ("/works/doi:", "/works/https://doi.org/"):
            if doi.startswith(prefix):
                body = self.records.openalex.get(doi[len(prefix):].lower())
                if body is not None:
                    return 200, "application/json", body
        return 404, "application/json", json.dumps({"error": "Not Found", "message": "The requested URL was not found on the server."})

    def _arxiv(self, path: str, query: dict) -> tuple[int, str, str]:
        entries: list[ElementTree.Element] = []
        if query.get("id_list"):
            for wanted in query["id_list"].split(","):
                bare = re.sub(r"v\d+$", "", wanted.strip())
                if not re.fullmatch(r"\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7}", bare):
                    return 400, "application/atom+xml", _feed([_error_entry(wanted)])
                if bare in self.records.arxiv:
                    entries.append(self.records.arxiv[bare])
        elif query.get("search_query"):
            phrase = words(re.sub(r"^ti:", "", query["search_query"]))
            for entry in self.records.arxiv.values():
                title = " ".join(words(entry.findtext(f"{{{ATOM}}}title", "")))
                if phrase and " ".join(phrase) in title:
                    entries.append(entry)
        return 200, "application/atom+xml; charset=utf-8", _feed(entries[: int(query.get("max_results", "10"))])

    def _openlibrary(self, path: str, query: dict) -> tuple[int, str, str]:
        answer = {key: self.records.openlibrary[key] for key in query.get("bibkeys", "").split(",") if key in self.records.openlibrary}
        return 200, "application/json", json.dumps(answer)

    def _pubmed(self, path: str, query: dict) -> tuple[int, str, str]:
        root = ElementTree.Element("eSummaryResult")
        for pmid in query.get("id", "").split(","):
            summary = self.records.pubmed.get(pmid.strip())
            if summary is not None:
                root.append(summary)
            else:
                ElementTree.SubElement(root, "ERROR").text = f"UID={pmid.strip()}: cannot get document summary"
        return 200, "text/xml", '<?xml version="1.0"?>\n' + ElementTree.tostring(root, encoding="unicode")


def _feed(entries: list[ElementTree.Element]) -> str:
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    ElementTree.SubElement(feed, f"{{{ATOM}}}title").text = "arXiv Query"
    ElementTree.SubElement(feed, "{http://a9.com/-/spec/opensearch/1.1/}totalResults").text = str(len(entries))
    feed.extend(entries)
    return "<?xml version='1.0' encoding='UTF-8'?>\n" + ElementTree.tostring(feed, encoding="unicode")


def _error_entry(wanted: str) -> ElementTree.Element:
    entry = ElementTree.Element(f"{{{ATOM}}}entry")
    ElementTree.SubElement(entry, f"{{{ATOM}}}id").text = f"https://arxiv.org/api/errors#incorrect_id_format_for_{wanted}"
    ElementTree.SubElement(entry, f"{{{ATOM}}}title").text = "Error"
    ElementTree.SubElement(entry, f"{{{ATOM}}}summary").text = f"incorrect id format for {wanted}"
    return entry


def _handler(server: RegistryServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            fault = server.take_fault(target)
            try:
                self._respond(parsed, fault)
            finally:
                server.done()

        def _respond(self, parsed, fault: Fault | None) -> None:
            if fault and fault.hang:
                time.sleep(fault.hang)
            if fault and fault.status:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._send(fault.status, "text/plain", "Too busy, try later", headers)
            status, content_type, body = server.answer(parsed.path, parse_qs(parsed.query))
            if fault and fault.malformed:
                body = body[: len(body) // 2]
            self._send(status, content_type, body)

        def _send(self, status: int, content_type: str, body: str, headers: dict | None = None) -> None:
            data = body.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES
    server = RegistryServer(Records(folder)).start()
    print("\n".join(f"export {name}={value}" for name, value in server.environment().items()), flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()
