"""Candidate tables for citation-key completion: built once, so that a keystroke only matches and ranks.

- `BibTable`, one per .bib state (kept in `BibState.derived`, dropped with it when the file
  changes): every entry prepared for matching, its haystack of words, the words' postings.
- `IndexTable`, one per index revision: key, haystack and word postings of every paper,
  built on the `tables` lane from a read-only connection of its own (about a second for
  100,000 papers). Until it is published the features thread keeps the previous table,
  and before the first one it asks the index's own fuzzy queries. An index of more than
  `INDEX_TABLE_MAX_PAPERS` papers gets no table (it would weigh hundreds of MB and take
  minutes at a million): its own indexed queries answer every keystroke.

One rule scores typed text against a paper (`typed_score`): 1.0 for a key prefix, 0.9 for
a word prefix, 0.75 for a substring, and 0.7 × the rapidfuzz ratio of the closest word
(at least FUZZY_CUTOFF) for a typo. Typed text never holds a space, so "a substring of the
haystack" is "a substring of one of its words", which the postings answer.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from citewise.bib.model import Reference, normalize_doi, normalize_title
from citewise.server.features.render import detail_line, plain, reference_markdown

if TYPE_CHECKING:
    from citewise.server.features.background import Lanes
    from citewise.server.features.workspace import BibState, Workspace

FUZZY_CUTOFF = 70
LABEL_CHUNK = 2_000
LITERAL_CACHE_SIZE = 32
INDEX_TABLE_MAX_PAPERS = 200_000
SMALL_BIB_CHARS = 200_000  # a larger .bib's table is built in the background
# While another process writes the index, each commit is a new revision: the next table waits
# REBUILD_SPACING times as long as the last build took, so rebuilding takes at most a fifth of a
# core however often the index changes (back to back, they took half the server's CPU).
REBUILD_SPACING = 4
SORT_STEP = 5_000  # items per C sort call (`sorted_in_steps`): a few milliseconds each
_WORD = re.compile(r"[a-z0-9]+")
_serials = itertools.count(1)


@dataclass
class Entry:
    """One paper prepared for matching: lowercased words; shown texts computed once."""

    key: str
    ref: Reference
    words: list[str]
    haystack: str  # " word word word", for fast word-prefix tests

    @staticmethod
    def of(ref: Reference) -> Entry:
        families = [plain(a.family).lower() for a in ref.authors]
        words = [ref.key.lower()] + [w for f in families for w in _WORD.findall(normalize_title(f))]
        words += _WORD.findall(normalize_title(plain(ref.title))) + ([ref.year] if ref.year else [])
        return Entry(ref.key, ref, words, " " + " ".join(words))

    @cached_property
    def detail(self) -> str:
        return detail_line(self.ref)

    @cached_property
    def markdown(self) -> str:
        return reference_markdown(self.ref)

    @cached_property
    def identity(self) -> tuple[str, str]:
        """Normalized DOI and title: what tells the same paper in the index and a .bib."""
        ref = self.ref
        return (normalize_doi(ref.doi) if ref.doi else "", normalize_title(ref.title) if ref.title else "")


def sorted_in_steps(items: Iterable, key: Callable | None = None) -> list:
    """`sorted(items, key=key)`, as sorts of SORT_STEP items merged in Python: one sort of
    100,000 keys is a single C call that holds the GIL for 30–100 ms (every thread waits);
    the merge hands the GIL over between items, as any Python loop does (background.py)."""
    items = list(items)
    runs = [sorted(items[start:start + SORT_STEP], key=key) for start in range(0, len(items), SORT_STEP)]
    return runs[0] if len(runs) == 1 else list(heapq.merge(*runs, key=key))


def typed_score(key_lower: str, haystack: str, typed: str) -> float:
    """How well `typed` (lowercase) matches a paper, 0..1: key prefix, word prefix, substring, typo."""
    if not typed or key_lower.startswith(typed):
        return 1.0
    if " " + typed in haystack:
        return 0.9
    if typed in haystack:
        return 0.75
    best = process.extractOne(typed, haystack.split(), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return 0.7 * best[1] / 100 if best else 0.0


class _Words:
    """The distinct words of a table, sorted, with the positions of the papers holding each.

    A typo is looked for among the words that start with the typed text's first letter
    (rapidfuzz over a few thousand words, not a whole vocabulary, per keystroke). Postings are
    arrays of 4-byte integers from the start (a quarter of the memory of lists of ints, and no
    copy of every posting list when the table is done)."""

    def __init__(self) -> None:
        self.postings: dict[str, array] = {}
        self.sorted: list[str] = []

    @staticmethod
    def of(haystacks: list[str]) -> _Words:
        words = _Words()
        for position, haystack in enumerate(haystacks):
            words.add(position, haystack.split())
        return words.done()

    def add(self, position: int, words: Iterable[str]) -> None:
        postings = self.postings
        for word in words:
            held = postings.get(word)
            if held is None:
                postings[word] = array("i", (position,))
            elif held[-1] != position:
                held.append(position)

    def done(self) -> _Words:
        self.sorted = sorted_in_steps(list(self.postings))
        return self

    def with_prefix(self, typed: str) -> list[str]:
        start = bisect.bisect_left(self.sorted, typed)
        return self.sorted[start:bisect.bisect_left(self.sorted, typed + "\uffff", start)]

    def close_to(self, typed: str) -> list[tuple[str, float]]:
        """Words within FUZZY_CUTOFF of `typed` (same first letter), scored as `typed_score` does."""
        found = process.extract(typed, self.with_prefix(typed[0]), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF,
                                limit=None)
        return [(word, 0.7 * score / 100) for word, score, _ in found]


@dataclass
class BibTable:
    """Per-.bib precomputation, stored in `BibState.derived` and dropped when the file changes."""

    entries: list[Entry]
    haystacks: list[str]
    keys_lower: list[str]
    positions: dict[str, int]  # key -> position in `entries`
    by_doi: dict[str, str]
    by_title: dict[str, str]
    words: _Words
    _literal: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)  # typed -> matches, scores
    # Unique per table, never reused (unlike id()): caches over tables key on it.
    serial: int = field(default_factory=lambda: next(_serials))

    @staticmethod
    def of(state: BibState, lanes: Lanes) -> BibTable:
        """The table of a .bib. A large file's table is built on the `tables` lane once its
        fields are parsed; until then an early one answers, from its keys and the titles and
        years read straight from each entry's text."""
        table = state.derived.get("completion")
        if table is not None:
            state.derived.pop("completion-early", None)
            return table
        if state.ready and len(state.file.text) <= SMALL_BIB_CHARS:
            return state.derive("completion", BibTable.build)
        if state.ready and "completion-job" not in state.derived:
            state.derived["completion-job"] = lanes.submit_when_quiet(
                "tables", lambda: state.derive("completion", partial(BibTable.build, pause=lanes.yield_to_foreground)))
        early = state.derived.get("completion-early")
        if early is None:
            early = state.derived["completion-early"] = BibTable.of_entries(_early_entries(state), early=True)
        return early

    @staticmethod
    def build(state: BibState, pause: Callable[[], None] = lambda: None) -> BibTable:
        """The full table (`pause()` between entries, on the `tables` lane: background.py)."""
        entries = []
        for ref in state.references.values():
            pause()
            entries.append(Entry.of(ref))
        return BibTable.of_entries(entries)

    @staticmethod
    def of_entries(entries: list[Entry], early: bool = False) -> BibTable:
        """The table of `entries`; an early one leaves out typos and the DOI and title lookups."""
        haystacks = [e.haystack for e in entries]
        return BibTable(
            entries,
            haystacks,
            [e.words[0] for e in entries],
            {e.key: position for position, e in enumerate(entries)},
            {} if early else {e.identity[0]: e.key for e in entries if e.identity[0]},
            {} if early else {e.identity[1]: e.key for e in entries if e.identity[1]},
            _Words() if early else _Words.of(haystacks),
        )

    def matches(self, typed: str, enough: int) -> tuple[list[int], list[float]]:
        """Positions of the entries `typed` matches and their typed scores; a typo is
        looked for only when fewer than `enough` entries hold the text itself. The literal
        matches of the last few texts are kept: typing one more letter searches only those."""
        if not typed:
            return list(range(len(self.entries))), [1.0] * len(self.entries)
        literal = self._literal.get(typed)
        if literal is None:
            shorter = next((self._literal[typed[:n]][0] for n in range(len(typed) - 1, 0, -1)
                            if typed[:n] in self._literal), None)
            keys, haystacks, needle = self.keys_lower, self.haystacks, " " + typed
            held = [i for i in (shorter if shorter is not None else range(len(haystacks))) if typed in haystacks[i]]
            scored = [1.0 if keys[i].startswith(typed) else 0.9 if needle in haystacks[i] else 0.75 for i in held]
            literal = self._literal[typed] = (held, scored)
            if len(self._literal) > LITERAL_CACHE_SIZE:
                del self._literal[next(iter(self._literal))]
        positions, scores = list(literal[0]), list(literal[1])
        haystacks = self.haystacks
        if len(positions) < enough and len(typed) >= 3:
            best: dict[int, float] = {}
            for word, score in self.words.close_to(typed):
                for position in self.words.postings[word]:
                    if score > best.get(position, 0.0) and typed not in haystacks[position]:
                        best[position] = score
            positions += best
            scores += best.values()
        return positions, scores

    def same_paper(self, entry: Entry) -> str | None:
        """The key of this .bib's entry for the same paper as the index's `entry` (by DOI, else title)."""
        doi, title = entry.identity
        return (doi and self.by_doi.get(doi)) or (title and self.by_title.get(title)) or None


# One pattern per field, each starting with its name: a literal prefix makes the scan fast.
_EARLY_FIELDS = {name: re.compile(name + r"[ \t]*=[ \t]*[{\"]?[ \t]*([^\n]*)") for name in ("title", "year")}


def _early_entries(state: BibState) -> list[Entry]:
    """Each entry's key, and title and year as the text writes them (a lowercase field name;
    the first line of the value, braces and quotes dropped, no LaTeX decoded), read in one
    pass over the file per field: enough to rank by what is typed until the parse is done."""
    text, entries_read = state.file.text, state.file.entries
    starts = [bib_entry.span.start_offset for bib_entry in entries_read]
    found: list[dict[str, str]] = [{} for _ in entries_read]
    for name, pattern in _EARLY_FIELDS.items():
        for match in pattern.finditer(text):
            before = text[match.start() - 1] if match.start() else "\n"
            number = bisect.bisect_right(starts, match.start()) - 1
            if number >= 0 and (before.isspace() or before == ","):  # not `booktitle`
                found[number].setdefault(name, match.group(1).rstrip().rstrip(",").strip("{}\" "))
    entries: dict[str, Entry] = {}
    for bib_entry, fields in zip(entries_read, found):
        key = bib_entry.key
        if key and key not in entries:
            title, year = fields.get("title", ""), fields.get("year", "")
            year = year if year.isdigit() else ""
            words = [key.lower()] + _WORD.findall(title.lower()) + ([year] if year else [])
            entries[key] = Entry(key, Reference(key=key, entry_type=bib_entry.entry_type, title=title, year=year),
                                 words, " " + " ".join(words))
    return list(entries.values())


@dataclass
class IndexTable:
    """Every paper of one index revision, for matching typed text without a query."""

    revision: int
    row_ids: array = field(default_factory=lambda: array("q"))
    keys: list[str] = field(default_factory=list)
    sorted_keys: list[str] = field(default_factory=list)  # lowercased, sorted
    key_positions: array = field(default_factory=lambda: array("i"))  # the position of each of `sorted_keys`
    words: _Words = field(default_factory=_Words)  # author names, title words and years (keys: `sorted_keys`)
    oversized: bool = False  # the index holds more than INDEX_TABLE_MAX_PAPERS papers: no rows here

    def add(self, row_id: int, key: str, text: str) -> None:
        """One paper: its key, and its authors, title and year as one text."""
        text = text.lower()
        self.words.add(len(self.keys), _WORD.findall(text if text.isascii() else normalize_title(text)))
        self.row_ids.append(row_id)
        self.keys.append(key)

    def done(self) -> IndexTable:
        lowered = [key.lower() for key in self.keys]
        order = sorted_in_steps(range(len(lowered)), key=lowered.__getitem__)
        self.sorted_keys = [lowered[position] for position in order]
        self.key_positions = array("i", order)
        self.words.done()
        return self

    def candidates(self, typed: str, limit: int, skipped: Callable[[str], bool]) -> list[tuple[int, str]]:
        """(row id, key) of up to `limit` papers `typed` matches, best tier first: key prefix,
        word prefix, typo (within a tier, in key or word order); `skipped` keys left out. A
        word holding the text further in (`former` in `transformer`) is left to the .bib's
        matching: across 100,000 papers it matches too much to rank in a keystroke."""
        found: dict[int, None] = {}

        def take(positions: Iterable[int]) -> bool:
            for position in positions:
                if not skipped(self.keys[position]):
                    found.setdefault(position)
                    if len(found) >= limit:
                        return True
            return False

        start = bisect.bisect_left(self.sorted_keys, typed)
        end = bisect.bisect_left(self.sorted_keys, typed + "\uffff", start)
        if not take(self.key_positions[start:end]):
            words = self.words
            if not any(take(words.postings[word]) for word in words.with_prefix(typed)) and len(typed) >= 3:
                any(take(words.postings[word]) for word, _ in words.close_to(typed))
        return [(self.row_ids[position], self.keys[position]) for position in found]


class IndexTables:
    """The index table of the workspace's index: the newest built, and the build under way.

    The features thread calls `current`; the `tables` lane builds and publishes with one
    assignment (background.py)."""

    def __init__(self) -> None:
        self._table: tuple[str, IndexTable] | None = None
        self._building: str | None = None
        self._lock = threading.Lock()
        self._next_build = 0.0  # time.monotonic() from which a newer revision's build may start

    def current(self, ws: Workspace, now: bool = False) -> IndexTable | None:
        """The newest table of the workspace's index (maybe a revision behind); starts a
        build when none matches the index's revision (spaced out, see REBUILD_SPACING, unless
        `now`). None before the first, and for an index too large for one."""
        location, revision = str(ws.index_path), ws.papers.revision()
        held = self._table
        table = held[1] if held is not None and held[0] == location else None
        behind = table is not None and table.revision != revision
        if revision >= 0 and (table is None or (behind and (now or time.monotonic() >= self._next_build))):
            self._start(ws, location)
        return None if table is None or table.oversized else table

    def _start(self, ws: Workspace, location: str) -> None:
        with self._lock:
            if self._building == location:
                return
            self._building = location

        def build() -> None:
            started = time.monotonic()
            try:
                self._table = (location, read_index_table(location, ws.lanes.yield_to_foreground))
            finally:
                finished = time.monotonic()
                self._next_build = finished + REBUILD_SPACING * (finished - started)
                with self._lock:
                    self._building = None

        ws.lanes.submit_when_quiet("tables", build)

    def wait(self, ws: Workspace, timeout: float = 60.0) -> IndexTable | None:
        """Build the table if needed, at once, and wait for it (tests and benchmarks)."""
        self.current(ws, now=True)
        ws.lanes.wait_idle("tables", timeout=timeout)
        return self.current(ws)


def read_index_table(location: str, pause: Callable[[], None] = lambda: None) -> IndexTable:
    """Every paper's key and words, read through a read-only connection of its own (none past
    INDEX_TABLE_MAX_PAPERS papers), LABEL_CHUNK papers at a time (`pause()` between chunks)."""
    from citewise.bib.index.store import Index

    index = Index.open(location, create=False, read_only=True)
    try:
        table = IndexTable(index.revision())
        if index.count() > INDEX_TABLE_MAX_PAPERS:
            table.oversized = True
            return table
        ids = sorted(index.filtered_ids(None, None, None))
        for start in range(0, len(ids), LABEL_CHUNK):  # a chunk at a time: the labels of every paper at once weigh ~60 MB
            pause()
            for row_id, (key, year, authors, title) in index.labels(ids[start:start + LABEL_CHUNK]).items():
                table.add(row_id, key, f"{authors} {title} {year}")
        return table.done()
    finally:
        index.close()
