"""What the language server knows: open documents, the .bib files drafts declare, the index.

Open documents override the files on disk. Each .bib file is parsed once (with spans)
and re-parsed when it changes, either because the client says so (`reload_bib`,
`file_changed`) or because its modification time moved when a feature asks for it; in
the second case the old parse keeps answering while a background thread reads the new
one. The index opens on first use; its searcher ranks lexically and fuzzily until
`load_model()` (slow, run it in a thread) gives it the embedding model.

Thread use: call features from one thread (the protocol layer's event loop).
`load_model`, `reload_bib` and the commands that open their own index connection
(reindex, sync) may run in worker threads.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from typing import TYPE_CHECKING

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.index.location import display_location, index_exists, resolve_index_path
from citewise.bib.model import Reference
from citewise.server.drafts.latex import scan_latex
from citewise.server.drafts.markdown import find_markdown_citations, markdown_bibliographies
from citewise.server.drafts.model import Citation, Draft
from citewise.server.drafts.project import DRAFT_SUFFIXES, find_root_document, language_of, load_draft
from citewise.server.drafts.uris import path_to_uri, uri_to_path
from citewise.server.features.positions import LineIndex
from citewise.server.features.settings import Settings

if TYPE_CHECKING:  # the BibTeX reader pulls in bibtexparser: loaded on first .bib, not at import
    from citewise.bib.bibtex.reader import BibEntry, BibFile

SKIPPED_DIRECTORIES = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", "_build", "build"}
MAX_SCANNED_FILES = 5_000
MAX_SCANNED_BYTES = 20_000_000
MAX_PROJECT_LOAD_BYTES = 2_000_000  # larger drafts: their own declarations only, no include walk
SCAN_TTL_SECONDS = 2.0


def read_text(path: str) -> str | None:
    """A regular file's text (see `citewise.bib.files`); "" for binary data, None when it cannot be read."""
    from citewise.bib.files import decode, read_bytes

    try:
        data = read_bytes(path)
    except SourceError:
        return None
    try:
        return decode(data, path).text
    except SourceError:
        return ""


@dataclass
class Document:
    uri: str
    path: str
    text: str
    language: str | None
    version: int | None = None

    @cached_property
    def lines(self) -> LineIndex:
        return LineIndex(self.text)

    @cached_property
    def scan(self) -> DraftScan:
        return scan_draft(self.text, self.language, self.path)

    @property
    def citations(self) -> list[Citation]:
        return self.scan.citations

    @cached_property
    def declaration_lines(self) -> tuple[str, ...]:
        """The lines that can change which .bib files the draft uses (cheap to find)."""
        return tuple(_DECLARATION_LINE.findall(self.text))


# A declaration's lines run to the end of its argument: `\bibliography{long,%` + newline + `other}`.
_DECLARATION_LINE = re.compile(r"^.*(?:bibliograph|addbibresource|addglobalbib|addsectionbib|documentclass|TeX\s*root"
                               r"|bibtex_bibfiles|newcommand|\\def\\)(?:[^{}\n]*\{[^{}]*\}?)?.*$",
                               re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class DraftScan:
    citations: list[Citation]
    bibliographies: list[str]  # as written in the file


def scan_draft(text: str, language: str | None, path: str, extra_macros: tuple[str, ...] = ()) -> DraftScan:
    """Citations and bibliography declarations of one draft file; empty for unparseable text."""
    try:
        if language == "latex":
            scan = scan_latex(text, path, extra_macros)
            return DraftScan(scan.citations, scan.bibliographies)
        if language == "markdown":
            return DraftScan(find_markdown_citations(text, path), markdown_bibliographies(text))
    except (ValueError, RecursionError):
        pass
    return DraftScan([], [])


@dataclass
class BibState:
    """One parsed .bib file and what features derive from it (dropped with it on reload).

    A file read for the first time has keys and spans at once while its fields are
    still being parsed in the background (`ready` turns true when they are). Derived
    data needing fields goes through `derive`, which caches only once fields are ready.
    """

    file: BibFile
    mtime: float | None
    from_editor: bool = False
    derived: dict = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.file.fields_ready.is_set()

    @cached_property
    def by_key(self) -> dict[str, BibEntry]:
        """Entries by lowercased key (BibTeX keys are case-insensitive); the first one wins."""
        entries: dict[str, BibEntry] = {}
        for entry in self.file.entries:
            entries.setdefault(entry.key.lower(), entry)
        return entries

    def entry(self, key: str) -> BibEntry | None:
        return self.by_key.get(key.lower())

    def derive(self, name: str, build):
        """`build(self)`, cached under `name` once the fields are parsed."""
        if name in self.derived:
            return self.derived[name]
        complete = self.ready  # read before building: fields may arrive while it runs
        value = build(self)
        if complete:
            self.derived[name] = value
        return value

    @property
    def references(self) -> dict[str, Reference]:
        return self.derive("references", _references_of)

    def with_strings(self, earlier: dict[str, str]) -> BibState:
        """This file as read after files defining the @strings `earlier` (a bibliography is all
        its files together: bib/bibtex/bibliography.py); itself while fields are still parsing."""
        if not earlier or not self.ready:
            return self
        name = ("with-strings", frozenset(earlier.items()))
        if name not in self.derived:
            from citewise.bib.bibtex.bibliography import with_earlier_strings

            resolved = with_earlier_strings(self.file, earlier)
            self.derived[name] = self if resolved is self.file else BibState(resolved, self.mtime, self.from_editor)
        return self.derived[name]


def _references_of(state: BibState) -> dict[str, Reference]:
    from citewise.bib.bibtex.reader import entry_to_reference

    references = {}
    for entry in state.file.entries:
        if entry.key and entry.key not in references:
            references[entry.key] = entry_to_reference(entry, state.file.path)
    return references


@dataclass
class DraftFile:
    """What the workspace scan keeps of one draft file on disk or open."""

    path: str
    language: str
    citations: list[Citation]
    declared_bibs: list[str]
    stamp: tuple


class Workspace:
    def __init__(self, roots: list[str], settings: Settings | None = None):
        self.roots = [uri_to_path(root) for root in roots if root]
        self.settings = settings or Settings()
        self._documents: dict[str, Document] = {}
        self._bibs: dict[str, BibState] = {}
        self._reloading: set[str] = set()
        self._lock = threading.RLock()
        self._index = None
        self._index_checked = False
        self._searcher = None
        self._embedder = None
        self._model_error: str | None = None
        self._scan_cache: dict[str, DraftFile] = {}
        self._bib_paths_cache: dict[str, tuple[tuple, list[str]]] = {}
        self._project_drafts: dict[str, tuple[tuple, Draft]] = {}
        self._index_keys: tuple[int, list[str]] | None = None
        self._scan_listing: tuple[float, list[str]] = (0.0, [])

    # Documents -----------------------------------------------------------------

    def open_document(self, uri: str, text: str, version: int | None = None) -> Document:
        path = uri_to_path(uri)
        document = Document(uri, path, text, language_of(path), version)
        self._documents[path] = document
        if path.lower().endswith(".bib"):
            self._store_bib(path, text, mtime=None, from_editor=True)
        return document

    def update_document(self, uri: str, text: str, version: int | None = None) -> Document:
        return self.open_document(uri, text, version)

    def close_document(self, uri: str) -> None:
        path = uri_to_path(uri)
        self._documents.pop(path, None)
        state = self._bibs.get(path)
        if state is not None and state.from_editor:
            self._bibs.pop(path, None)

    def document(self, uri: str) -> Document | None:
        """The open document, or the file on disk read as one; None if neither exists."""
        path = uri_to_path(uri)
        document = self._documents.get(path)
        if document is not None:
            return document
        text = read_text(path) if os.path.isfile(path) else None
        if text is None:
            return None
        return Document(uri if "://" in uri else path_to_uri(path), path, text, language_of(path))

    def update_settings(self, settings: Settings) -> None:
        if settings.index_path != self.settings.index_path:
            self._close_index()
        self.settings = settings

    # Drafts ------------------------------------------------------------------------

    def extra_cite_macros(self) -> tuple[str, ...]:
        command = self.settings.cite_command.get("latex", "\\cite")
        return (command,) if command != "\\cite" else ()

    def draft_for(self, uri: str) -> Draft:
        """The draft `uri` belongs to, its citations taken from the open text."""
        document = self.document(uri)
        path = uri_to_path(uri)
        if document is None:
            return Draft(root=path, files=[path], citations=[], bib_files=[], errors=[])
        draft = self._load_draft(path)
        own = self._citations(document)
        citations = [c for c in draft.citations if os.path.abspath(c.file or path) != path] + own
        return Draft(root=draft.root, files=draft.files, citations=citations,
                     bib_files=self.bib_paths_for(uri), errors=draft.errors)

    def _load_draft(self, path: str) -> Draft:
        """The draft `path` belongs to (its LaTeX root when it names one), open texts included.

        Drafts over MAX_PROJECT_LOAD_BYTES stand alone: no root or include walk."""
        document = self._documents.get(path)
        on_disk = os.path.isfile(path)
        size = max(os.path.getsize(path) if on_disk else 0, len(document.text) if document else 0)
        if not on_disk or size > MAX_PROJECT_LOAD_BYTES:
            return Draft(root=path, files=[path], citations=[], bib_files=[], errors=[])
        open_texts = {str(Path(p).resolve()): d.text for p, d in self._documents.items() if d.language}
        try:
            root = find_root_document(path, open_texts.get(str(Path(path).resolve())))
            return load_draft(root, open_texts=open_texts)
        except (CitewiseError, OSError, ValueError, RecursionError) as error:
            return Draft(root=path, files=[path], citations=[], bib_files=[], errors=[str(error)])

    def project_draft(self, path: str) -> Draft:
        """`_load_draft(path)`, kept until one of the draft's files changes: its citations
        include those written with cite macros defined in another file of the project."""
        cached = self._project_drafts.get(path)
        if cached is not None and all(self._file_stamp(f) == stamp for f, stamp in cached[0]):
            return cached[1]
        draft = self._load_draft(path)
        files = [os.path.abspath(f) for f in draft.files] or [path]
        self._project_drafts[path] = (tuple((f, self._file_stamp(f)) for f in files), draft)
        return draft

    def _file_stamp(self, path: str) -> tuple | None:
        document = self._documents.get(path)
        if document is not None:
            return ("open", document.version, id(document))
        try:
            status = os.stat(path)
        except OSError:
            return None
        return ("disk", status.st_mtime_ns, status.st_size)

    def cited_in_project(self, path: str) -> list[Citation]:
        """Citations of the draft file `path` and of the project it roots, macros included."""
        info = self.draft_file(path)
        return (list(info.citations) if info else []) + self.project_draft(path).citations

    def workspace_citations(self) -> dict[str, list[Citation]]:
        """Every citation in the workspace's drafts, by the file it is written in."""
        found: dict[str, dict[tuple[int, int], Citation]] = {}
        for path in self.draft_files():
            for citation in self.cited_in_project(path):
                file = os.path.abspath(citation.file or path)
                found.setdefault(file, {}).setdefault((citation.line, citation.col), citation)
        return {file: list(citations.values()) for file, citations in found.items()}

    def _citations(self, document: Document) -> list[Citation]:
        if self.extra_cite_macros():
            return scan_draft(document.text, document.language, document.path, self.extra_cite_macros()).citations
        return document.citations

    def citations(self, uri: str) -> list[Citation]:
        """The citations in one document (open text, else disk)."""
        document = self.document(uri)
        return self._citations(document) if document else []

    def bib_paths_for(self, uri: str) -> list[str]:
        """Absolute paths of the .bib files the draft declares (or its including root declares).

        For an open draft the answer is kept while its declaration lines stay the same, so
        typing in a long draft does not re-parse it for this."""
        path = uri_to_path(uri)
        document = self._documents.get(path)
        if document is not None:
            if document.language is None:
                return []
            stamp = ("open", document.declaration_lines)
        else:
            info = self.draft_file(path)
            if info is None:
                return []
            stamp = info.stamp
        cached = self._bib_paths_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        info = self.draft_file(path)
        if info is None:
            return []
        paths = list(info.declared_bibs)
        paths += [os.path.abspath(p) for p in self._load_draft(path).bib_files]
        if not paths:
            paths = self._bibs_of_including_drafts(path)
        paths = list(dict.fromkeys(paths))
        self._bib_paths_cache[path] = (stamp, paths)
        return paths

    @staticmethod
    def _resolve_bibs(path: str, names: list[str], language: str) -> list[str]:
        base = os.path.dirname(path)
        resolved = []
        for name in names:
            name = name.strip()
            if not name:
                continue
            if language == "latex" and not name.lower().endswith(".bib"):
                name += ".bib"
            resolved.append(os.path.normpath(os.path.join(base, os.path.expanduser(name))))
        return resolved

    def _bibs_of_including_drafts(self, path: str) -> list[str]:
        root = self.including_root(path)
        return [os.path.abspath(p) for p in self.project_draft(root).bib_files] if root else []

    def including_root(self, path: str) -> str | None:
        """A workspace draft that declares a bibliography and includes `path`, if any."""
        for other in self.draft_files():
            if other == path:
                continue
            info = self.draft_file(other)
            if info is None or not info.declared_bibs:
                continue
            if path in (os.path.abspath(f) for f in self.project_draft(other).files):
                return other
        return None

    # Workspace scan ------------------------------------------------------------------

    def draft_files(self) -> list[str]:
        """Draft files under the workspace roots plus every open draft (listing cached briefly)."""
        stamp, listing = self._scan_listing
        if time.monotonic() - stamp > SCAN_TTL_SECONDS:
            listing = self._list_draft_files()
            self._scan_listing = (time.monotonic(), listing)
        open_drafts = [p for p, d in self._documents.items() if d.language]
        return list(dict.fromkeys(open_drafts + listing))

    def _list_draft_files(self) -> list[str]:
        found: list[str] = []
        for root in self.roots:
            for directory, subdirectories, files in os.walk(root):
                subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES and not d.startswith(".")]
                for name in files:
                    if name.lower().endswith(DRAFT_SUFFIXES):
                        found.append(os.path.join(directory, name))
                        if len(found) >= MAX_SCANNED_FILES:
                            return found
        return found

    def draft_file(self, path: str) -> DraftFile | None:
        """Citations and declared .bib files of one draft file, cached by version / mtime."""
        document = self._documents.get(path)
        stamp = self._file_stamp(path)
        if stamp is None or (document is None and stamp[2] > MAX_SCANNED_BYTES):
            return None
        cached = self._scan_cache.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        document = document or self.document(path)
        if document is None or document.language is None:
            return None
        info = DraftFile(path, document.language, self._citations(document),
                         self._resolve_bibs(path, document.scan.bibliographies, document.language), stamp)
        self._scan_cache[path] = info
        return info

    def drafts_using(self, bib_path: str) -> list[str]:
        """Workspace drafts whose .bib files include `bib_path`."""
        bib_path = os.path.abspath(bib_path)
        return [p for p in self.draft_files() if bib_path in self.bib_paths_for(p)]

    # .bib files ------------------------------------------------------------------------

    def bib_files_for(self, uri: str) -> list[BibFile]:
        return [state.file for state in self.bib_states_for(uri)]

    def bib_states_for(self, uri: str, wait_seconds: float = 0.0) -> list[BibState]:
        """The draft's .bib files in order, each with the @strings of those before it (once
        fields are parsed: `wait_seconds` waits for each file's first parse)."""
        states: list[BibState] = []
        strings: dict[str, str] = {}
        for path in self.bib_paths_for(uri):
            state = self.bib_state(path)
            if state is not None:
                if wait_seconds:
                    state.file.wait_for_fields(wait_seconds)
                states.append(state.with_strings(strings))
                strings.update(state.file.strings)
        return states

    def bib_state_in_bibliography(self, path: str, wait_seconds: float = 0.0) -> BibState | None:
        """The .bib at `path` as the first workspace draft that uses it reads it (with the
        @strings of the files it lists before), else on its own."""
        path = os.path.abspath(path)
        for draft in self.drafts_using(path):
            for state in self.bib_states_for(draft, wait_seconds):
                if state.file.path == path:
                    return state
        return self.bib_state(path)

    def bib_state(self, path: str) -> BibState | None:
        """The parsed .bib at `path`; re-read in the background when it changed on disk."""
        path = os.path.abspath(path)
        state = self._bibs.get(path)
        if state is None:
            return self.reload_bib(path, wait=False)
        if not state.from_editor and self._mtime(path) != state.mtime:
            self._reload_in_background(path)
        return state

    def reload_bib(self, path: str, wait: bool = True) -> BibState | None:
        """Parse `path` now (the open editor text wins over disk); None when it does not exist.

        With `wait=False` keys and spans are there on return and fields follow in a thread."""
        path = os.path.abspath(path)
        document = self._documents.get(path)
        if document is not None:
            return self._store_bib(path, document.text, mtime=None, from_editor=True)
        from citewise.bib.bibtex.reader import BibFile
        from citewise.bib.files import read_text as read_user_text

        mtime = self._mtime(path)
        if not os.path.lexists(path):
            with self._lock:
                self._bibs.pop(path, None)
            return None
        try:
            text = read_user_text(path, "a BibTeX file").text
        except SourceError as error:
            state = BibState(BibFile(path, "", [], errors=[error]), mtime)
            with self._lock:
                self._bibs[path] = state
            return state
        return self._store_bib(path, text, mtime=mtime, from_editor=False, wait=wait)

    def _store_bib(self, path: str, text: str, mtime: float | None, from_editor: bool,
                   wait: bool = True) -> BibState:
        from citewise.bib.bibtex.reader import BibFile, parse_bib_text

        try:
            parsed = parse_bib_text(text, path, wait=wait)
        except (ValueError, RecursionError) as error:
            parsed = BibFile(path, text, [], errors=[SourceError(path, None, f"cannot parse: {error}")])
        state = BibState(parsed, mtime, from_editor)
        with self._lock:
            self._bibs[path] = state
        return state

    def _reload_in_background(self, path: str) -> None:
        with self._lock:
            if path in self._reloading:
                return
            self._reloading.add(path)

        def reload() -> None:
            try:
                self.reload_bib(path)
            finally:
                with self._lock:
                    self._reloading.discard(path)

        threading.Thread(target=reload, name=f"citewise-reload-{os.path.basename(path)}", daemon=True).start()

    def wait_for_reloads(self, timeout: float = 30.0) -> None:
        """Block until background .bib reloads finish (tests and benchmarks use this)."""
        deadline = time.monotonic() + timeout
        while self._reloading and time.monotonic() < deadline:
            time.sleep(0.01)

    @staticmethod
    def _mtime(path: str) -> float | None:
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None

    def file_changed(self, uri: str) -> list[str]:
        """A file changed on disk: a known .bib is re-read in the background (the old parse
        answers meanwhile; call `wait_for_reloads` to block); paths to re-diagnose."""
        path = uri_to_path(uri)
        if path.lower().endswith(".bib"):
            if path in self._bibs and path not in self._documents:
                self._reload_in_background(path)
            return [path] + self.drafts_using(path)
        self._scan_listing = (0.0, [])
        self._bib_paths_cache.clear()
        return [path] if path in self._documents else []

    def known_bib_paths(self) -> list[str]:
        return list(self._bibs)

    # Index and model --------------------------------------------------------------------

    @property
    def index_path(self) -> Path | str:
        return resolve_index_path(self.settings.index_path)

    @property
    def index(self):
        """The index, opened on first use; None when no index file exists yet."""
        if not self._index_checked:
            self._index_checked = True
            path = self.index_path
            if index_exists(path):
                from citewise.bib.index.store import Index

                try:
                    self._index = Index.open(path, create=False)
                except Exception as error:  # a broken index must not take the server down
                    self._model_error = f"cannot open index {display_location(path)}: {error}"
                    self._index = None
        return self._index

    @property
    def searcher(self):
        """The index searcher; it turns hybrid on the first call after `load_model` finished."""
        if self._searcher is None and self.index is not None:
            from citewise.bib.index.search import Searcher

            self._searcher = Searcher(self.index)
        if self._searcher is not None and self._embedder is not None and self._searcher.embedder is None:
            self._attach_embedder()
        return self._searcher

    def _attach_embedder(self) -> None:
        from citewise.bib.errors import CitewiseError

        try:
            self._searcher.set_embedder(self._embedder)
        except CitewiseError as error:  # index embedded with another model: stay lexical, say why
            self._model_error = str(error)
            self._embedder = None

    def index_keys(self) -> list[str]:
        """Every key in the index (cached until the index changes)."""
        index = self.index
        if index is None:
            return []
        revision = index.revision()
        if self._index_keys is None or self._index_keys[0] != revision:
            self._index_keys = (revision, index.all_keys())
        return self._index_keys[1]

    def index_changed(self) -> None:
        """Another connection wrote the index (reindex, Zotero sync). An open connection sees
        the commits by itself; a missing index is looked for again on next use."""
        if self._index is None:
            self._index_checked = False

    def _close_index(self) -> None:
        if self._index is not None:
            self._index.close()
        self._index = None
        self._index_checked = False
        self._searcher = None
        self._index_keys = None

    def load_model(self, embedder=None) -> None:
        """Load the embedding model (seconds; imports torch), or adopt an `embedder` already
        loaded. Safe in a worker thread: the searcher, whose SQLite connection belongs to
        the features thread, picks it up on its next use there."""
        if embedder is not None:
            self._embedder = embedder
            return
        from citewise.bib.index.embed import QUERY_THREADS, Embedder

        try:
            self._embedder = Embedder.load(self.settings.model, threads=QUERY_THREADS)
        except Exception as error:  # reported through status(); lexical search keeps working
            self._model_error = f"embedding model unavailable: {error}"
            raise

    @property
    def embedder(self):
        return self._embedder

    @property
    def model_ready(self) -> bool:
        return self._embedder is not None and (self._searcher is None or self._searcher.embedder is not None)

    def status(self) -> dict:
        index = self.index
        return {
            "indexPath": display_location(self.index_path),
            "indexOpen": index is not None,
            "indexCount": index.count() if index is not None else 0,
            "modelReady": self.model_ready,
            "model": getattr(self._embedder, "name", self.settings.model),
            "problem": self._model_error,
            "openDocuments": len(self._documents),
            "bibFiles": [
                {"path": path, "entries": len(state.file.entries), "errors": len(state.file.errors)}
                for path, state in list(self._bibs.items())
            ],
        }
