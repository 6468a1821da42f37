"""The .bib files drafts declare: parsed once, re-read when they change, watched for changes.

Each file has one `BibState`: its parse and the stamp of the text it was parsed from (the
open editor buffer's generation, else mtime and size on disk). One rule invalidates
everything derived from a .bib: a new stamp means a new `BibState`, and whatever features
derived from the old one (candidate tables, title vectors) goes with it.

A file read for the first time is parsed on the features thread up to keys and spans; its
fields follow on the `files` lane, which then, once the features lane is quiet (background.py),
converts its entries and calls `on_fields_parsed` (the language server diagnoses the file
again with its field errors). A file whose stamp moved on disk keeps answering with
its old state while the `files` lane reads the new one (`check`, `file_changed`).
`changed_on_disk()` is the watcher: the paths whose disk stamp differs from their state's,
for the protocol layer's polling loop (clients that watch files call `file_changed`).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from citewise.bib.errors import SourceError
from citewise.bib.model import Reference
from citewise.server.features.background import Lanes
from citewise.server.features.open_documents import OpenDocuments, Stamp, disk_stamp

if TYPE_CHECKING:  # the BibTeX reader pulls in bibtexparser: loaded on first .bib, not at import
    from citewise.bib.bibtex.reader import BibEntry, BibFile

_versions = itertools.count(1)


@dataclass
class BibState:
    """One parsed .bib file and what features derive from it (dropped with it on reload).

    A file read for the first time has keys and spans at once while its fields are
    still being parsed in the background (`ready` turns true when they are). Derived
    data needing fields goes through `derive`, which caches only once fields are ready.
    `version` is unique per state: caches over several .bib files key on it.
    """

    file: BibFile
    stamp: Stamp | None
    from_editor: bool = False
    derived: dict = field(default_factory=dict)
    version: int = field(default_factory=lambda: next(_versions))
    lanes: Lanes | None = field(default=None, repr=False, compare=False)
    """The lanes that convert the entries: a conversion on one of them pauses for suggestions (`references`)."""
    _converting: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _awaited: bool = field(default=False, repr=False, compare=False)

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

    def derive(self, name: str, build: Callable[[BibState], Any]) -> Any:
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
        """Every entry converted (seconds for thousands of entries): once per state, however
        many threads ask at the same time (the `files` lane, the `tables` lane's table)."""
        if "references" in self.derived:
            return self.derived["references"]  # type: ignore[no-any-return]
        if not self._converting.acquire(blocking=False):
            # a conversion under way on a lane pauses between entries while suggestions are
            # computed, until a thread other than a background lane (a request) waits for it
            self._awaited = self._awaited or self.lanes is None or not self.lanes.in_background()
            self._converting.acquire()
        try:
            return self.derive("references", _references_of)  # type: ignore[no-any-return]
        finally:
            self._converting.release()

    def awaited(self) -> bool:
        """Whether a thread waits for the conversion under way (`references`)."""
        return self._awaited

    @property
    def converted(self) -> bool:
        """Whether `references` is there without converting every entry now (a file read from
        disk by the language server has it converted on the `files` lane, after its fields)."""
        return "references" in self.derived

    def with_strings(self, earlier: dict[str, str]) -> BibState:
        """This file as read after files defining the @strings `earlier` (a bibliography is all
        its files together: bib/bibtex/bibliography.py); itself while fields are still parsing."""
        if not earlier or not self.ready:
            return self
        name = ("with-strings", frozenset(earlier.items()))
        if name not in self.derived:
            from citewise.bib.bibtex.bibliography import with_earlier_strings

            resolved = with_earlier_strings(self.file, earlier)
            self.derived[name] = self if resolved is self.file else BibState(resolved, self.stamp, self.from_editor)
        return self.derived[name]  # type: ignore[no-any-return]


def _references_of(state: BibState) -> dict[str, Reference]:
    from citewise.bib.bibtex.reader import entry_to_reference

    references = {}
    for entry in state.file.entries:
        if state.lanes is not None:
            state.lanes.yield_to_foreground(state.awaited)
        if entry.key and entry.key not in references:
            references[entry.key] = entry_to_reference(entry, state.file.path)
    return references


class Bibliographies:
    """Parsed .bib files by absolute path. The features thread reads and replaces states;
    the `files` lane only builds new ones and publishes each with one assignment."""

    def __init__(self, documents: OpenDocuments, lanes: Lanes):
        self._documents = documents
        self._lanes = lanes
        self._states: dict[str, BibState] = {}
        self._reloading: set[str] = set()
        self._lock = threading.Lock()  # guards _reloading; _states is replaced key by key
        self.on_fields_parsed: Callable[[str], None] | None = None  # called on the `files` lane with the path

    def paths(self) -> list[str]:
        return list(self._states)

    def states(self) -> list[tuple[str, BibState]]:
        return list(self._states.items())

    def state(self, path: str) -> BibState | None:
        """The parsed .bib at `path`; re-read in the background when it changed on disk."""
        path = os.path.abspath(path)
        state = self._states.get(path)
        if state is None:
            return self.reload(path, wait=False)
        if not state.from_editor and disk_stamp(path) != state.stamp:
            self._reload_in_background(path)
        return state

    def reload(self, path: str, wait: bool = True) -> BibState | None:
        """Parse `path` now (the open editor text wins over disk); None when it does not exist.

        With `wait=False` keys and spans are there on return and fields follow on the `files` lane."""
        path = os.path.abspath(path)
        document = self._documents.get(path)
        if document is not None:
            return self.store(path, document.text, ("open", document.generation), from_editor=True)
        from citewise.bib.bibtex.reader import BibFile
        from citewise.bib.files import read_text as read_user_text

        stamp = disk_stamp(path)
        if not os.path.lexists(path):
            self._states.pop(path, None)
            return None
        try:
            text = read_user_text(path, "a BibTeX file").text
        except SourceError as error:
            state = BibState(BibFile(path, "", [], errors=[error]), stamp)
            self._states[path] = state
            return state
        return self.store(path, text, stamp, from_editor=False, wait=wait)

    def store(self, path: str, text: str, stamp: Stamp | None, from_editor: bool, wait: bool = True) -> BibState:
        from citewise.bib.bibtex.reader import BibFile, parse_bib_text

        try:
            parsed = parse_bib_text(text, path, wait=wait, run_later=partial(self._parse_fields_later, path, len(text)))
        except (ValueError, RecursionError) as error:
            parsed = BibFile(path, text, [], errors=[SourceError(path, None, f"cannot parse: {error}")])
        state = BibState(parsed, stamp, from_editor, lanes=self._lanes)
        self._states[path] = state
        if not wait and state.ready:  # fields from the cache: convert on the lane, as after parsing them
            self._lanes.submit_when_quiet("files", lambda: state.references)
        return state

    def _parse_fields_later(self, path: str, size: int, parse: Callable[[], None]) -> None:
        """Read the fields on the `files` lane: a large file's once the features lane is quiet (the
        first completion in a draft just opened answers from its keys and titles meanwhile), a
        small one's at once (completion waits for them). Then, once the features lane is quiet,
        convert the entries (here, not on the features thread that diagnoses next) and tell
        `on_fields_parsed`."""
        from citewise.bib.bibtex.reader import CACHED_FIELDS_AT_ONCE_CHARS

        def convert_then_tell() -> None:
            try:
                state = self._states.get(path)
                if state is not None and state.ready:
                    _ = state.references
            finally:
                if self.on_fields_parsed is not None:
                    self.on_fields_parsed(path)

        def parse_then_convert() -> None:
            try:
                parse(self._lanes.yield_to_foreground)
            finally:
                self._lanes.submit_when_quiet("files", convert_then_tell)

        if size > CACHED_FIELDS_AT_ONCE_CHARS:
            self._lanes.submit_when_quiet("files", parse_then_convert)
        else:
            self._lanes.submit("files", parse_then_convert)

    def forget_editor_copy(self, path: str) -> None:
        """The editor closed `path`: its buffer's parse goes, the disk is read on next use."""
        state = self._states.get(path)
        if state is not None and state.from_editor:
            self._states.pop(path, None)

    def _reload_in_background(self, path: str) -> None:
        with self._lock:
            if path in self._reloading:
                return
            self._reloading.add(path)

        def reload() -> None:
            try:
                self.reload(path)
            finally:
                with self._lock:
                    self._reloading.discard(path)

        self._lanes.submit("files", reload)

    def wait_for_reloads(self, timeout: float = 30.0) -> None:
        """Block until background .bib reads finish (tests and benchmarks use this)."""
        self._lanes.wait_idle("files", timeout=timeout)

    def file_changed(self, path: str) -> None:
        """`path` changed on disk: a known .bib not open in the editor is re-read in the background."""
        if path in self._states and self._documents.get(path) is None:
            self._reload_in_background(path)

    def changed_on_disk(self) -> list[str]:
        """Known .bib files (not open in the editor) whose disk stamp moved since they were read."""
        return [path for path, state in list(self._states.items())
                if not state.from_editor and disk_stamp(path) != state.stamp]
