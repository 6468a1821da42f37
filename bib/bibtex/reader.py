"""Reading .bib files: entries with their exact spans, fields, macros, preambles and problems.

Reading goes in two steps. The scanner (scan.py) finds every entry's key and span in
milliseconds; bibtexparser (through parse.py) then reads each entry's fields, which is slow
(several milliseconds an entry), so fields come from the per-entry cache (cache.py) whenever
the entry's raw text has been read before. `read_bib_file(path, wait=False)` returns at once
with keys and spans and fills the fields in the background, on the caller's executor or else a
thread of its own (`BibFile.wait_for_fields()`).
A re-read of a path read before scans only the region that changed (rescan.py).

A broken entry never costs the others: it is reported in `BibFile.errors` as `path:line: …`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from citewise.bib.bibtex.cache import FieldCache, shared_cache
from citewise.bib.bibtex.latex import latex_to_unicode
from citewise.bib.bibtex.names import parse_names
from citewise.bib.bibtex.parse import FieldParseError, parse_entry_fields, parse_preamble, parse_string_definition
from citewise.bib.bibtex.rescan import Reuse, ScanState, rescan, shifted
from citewise.bib.bibtex.scan import BibLineIndex, Block, Span, scan_blocks
from citewise.bib.errors import SourceError, UndefinedString
from citewise.bib.files import read_text
from citewise.bib.model import Origin, Reference, normalize_arxiv, normalize_doi

__all__ = ["BibEntry", "BibFile", "Span", "entry_to_reference", "parse_bib_text", "read_bib_file", "scan_entries"]


@dataclass(slots=True)
class BibEntry:
    """One entry. `fields` has lowercased names, macros expanded and `crossref` parents' fields
    filled in; it is empty until parsed (see `BibFile.fields_ready`)."""

    key: str
    entry_type: str
    fields: dict[str, str]
    span: Span
    key_span: Span
    raw: str
    problem: str = ""
    """Why the entry is broken (its braces unbalanced...): the editor still shows it, the index skips it."""

    @property
    def line(self) -> int:
        """1-based line of the `@`, as messages print it."""
        return self.span.start_line + 1


@dataclass
class BibFile:
    """A parsed .bib file; `strings` are the `@string` macros (lowercased names, expanded)."""

    path: str
    text: str
    entries: list[BibEntry]
    strings: dict[str, str] = field(default_factory=dict)
    preambles: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    fields_ready: threading.Event = field(default_factory=threading.Event, repr=False)
    from_cache: int = 0
    """How many entries' fields came from the cache rather than from bibtexparser."""
    awaited: bool = field(default=False, repr=False)
    """Someone waits for the fields (`wait_for_fields`): a parse that pauses between entries stops pausing."""

    def entry(self, key: str) -> BibEntry | None:
        """The first entry with this key (BibTeX keys are case-insensitive)."""
        wanted = key.lower()
        return next((entry for entry in self.entries if entry.key.lower() == wanted), None)

    @property
    def duplicates(self) -> list[str]:
        """Keys given to more than one entry, in file order."""
        seen: set[str] = set()
        repeated: list[str] = []
        for entry in self.entries:
            folded = entry.key.lower()
            if folded in seen and entry.key not in repeated:
                repeated.append(entry.key)
            seen.add(folded)
        return repeated

    def wait_for_fields(self, timeout: float | None = None) -> bool:
        if not self.fields_ready.is_set():
            self.awaited = True
        return self.fields_ready.wait(timeout)


def read_bib_file(path: str | Path, wait: bool = True, cache: FieldCache | None = None) -> BibFile:
    """Read and parse a .bib file. With `wait=False` keys and spans are there on return and the
    fields follow in a background thread. Raises SourceError when the file cannot be read at all."""
    text = read_text(path, "a BibTeX file").text
    return parse_bib_text(text, str(path), wait=wait, cache=cache)


def scan_entries(text: str, path: str = "") -> list[BibEntry]:
    """Entries with key, type, span and raw text but no fields: the cheap path (no bibtexparser)."""
    return _entries_and_errors(text, path, scan_blocks(text), BibLineIndex(text))[0]


def parse_bib_text(text: str, path: str = "", wait: bool = True, cache: FieldCache | None = None,
                   run_later: Callable[[Callable[..., None]], None] | None = None) -> BibFile:
    """Parse .bib text (see `read_bib_file`). With `wait=False` the fields are parsed by
    `run_later(parse)` (the language server's `files` lane, which may call `parse(pause)`:
    `pause(awaited)` is then called between entries parsed, `awaited()` telling whether someone
    waits for the fields: `BibFile.wait_for_fields`), else on a thread of their own;
    a file of up to CACHED_FIELDS_AT_ONCE_CHARS has its cached fields at once, a larger one
    reads them there too (5,000 entries' fields take ~150 ms to read from the cache, which
    keys and spans need not wait for)."""
    blocks, reuse = rescan(_recent_scans.get(path), text) if path else (scan_blocks(text), {})
    entries, errors = _entries_and_errors(text, path, blocks, BibLineIndex(text), reuse)
    if path:
        _remember_scan(path, ScanState(text, blocks, {entry.span.start_offset: entry for entry in entries}))
    bib = BibFile(path, text, entries, errors=errors)
    filler = _FieldFiller(bib, blocks, cache or shared_cache())
    if wait or len(text) <= CACHED_FIELDS_AT_ONCE_CHARS:
        if filler.take_from_cache():
            return bib
        if wait:
            filler.parse_the_rest()
            return bib
    if run_later is not None:
        run_later(filler.fill)
    else:
        threading.Thread(target=filler.fill, name="citewise-bib-fields", daemon=True).start()
    return bib


CACHED_FIELDS_AT_ONCE_CHARS = 200_000
_recent_scans: dict[str, ScanState] = {}
_RECENT_LIMIT = 16


def _remember_scan(path: str, state: ScanState) -> None:
    """Keep the last scan of each recently read file, for `rescan` to reuse."""
    _recent_scans.pop(path, None)
    if len(_recent_scans) >= _RECENT_LIMIT:
        _recent_scans.pop(next(iter(_recent_scans)))
    _recent_scans[path] = state


def _entries_and_errors(text: str, path: str, blocks: list[Block], lines: BibLineIndex, reuse: Reuse | None = None) -> tuple[list[BibEntry], list[SourceError]]:
    entries: list[BibEntry] = []
    errors: list[SourceError] = []
    first_line_of: dict[str, int] = {}
    for block in blocks:
        if reuse and block.start in reuse:
            entry = _moved(*reuse[block.start])
            if block.problem:
                errors.append(SourceError(path, entry.line, block.problem))
        else:
            entry = _new_entry(text, path, block, lines, errors)
            if entry is None:
                continue
        folded = block.key.lower()
        if folded in first_line_of:
            errors.append(SourceError(path, entry.line, f"duplicate key {block.key!r} (first at line {first_line_of[folded]}); both kept"))
        else:
            first_line_of[folded] = entry.line
        entries.append(entry)
    return entries, errors


def _new_entry(text: str, path: str, block: Block, lines: BibLineIndex, errors: list[SourceError]) -> BibEntry | None:
    """The entry of a block (None for other blocks and keyless entries); its problem reported.

    Offsets are turned into positions in increasing order, which keeps BibLineIndex cheap."""
    start_line, start_col = lines.position(block.start)
    if block.problem:
        errors.append(SourceError(path, start_line + 1, block.problem))
    if block.kind != "entry" or not block.key:
        return None
    key_start = lines.position(block.key_start)
    key_end = lines.position(block.key_end)
    end_line, end_col = lines.position(block.end)
    span = Span(start_line, start_col, end_line, end_col, block.start, block.end)
    key_span = Span(*key_start, *key_end, block.key_start, block.key_end)
    return BibEntry(block.key, block.entry_type, {}, span, key_span, text[block.start : block.end], block.problem)


def _moved(entry: BibEntry, lines: int, offset: int) -> BibEntry:
    if not lines and not offset:
        return entry
    return BibEntry(entry.key, entry.entry_type, entry.fields, shifted(entry.span, lines, offset), shifted(entry.key_span, lines, offset), entry.raw, entry.problem)


class _FieldFiller:
    """Fills `strings`, `preambles` and each entry's fields from the cache, or by parsing, then
    resolves crossrefs. The cache is looked up by raw text, so nothing is parsed to look it up."""

    def __init__(self, bib: BibFile, blocks: list[Block], cache: FieldCache):
        self.bib = bib
        self.cache = cache
        self.declarations = [block for block in blocks if block.kind in ("string", "preamble") and not block.problem]
        context = "\n".join(bib.text[block.start : block.end] for block in self.declarations if block.kind == "string")
        self.declarations_key = ("@declarations", "\n".join(bib.text[b.start : b.end] for b in self.declarations))
        self.keys = [(context, _parseable(entry.raw)) for entry in bib.entries]
        self.declarations_known = not self.declarations
        self.pending = list(range(len(bib.entries)))

    def take_from_cache(self) -> bool:
        """Apply what the cache knows of what is still missing; True when nothing is left."""
        wanted = [self.keys[index] for index in self.pending]
        if not self.declarations_known:
            wanted.append(self.declarations_key)
        known = self.cache.get_many(wanted)
        if not self.declarations_known and self.declarations_key in known:
            self._apply_declarations(known[self.declarations_key])
        missing = []
        for index in self.pending:
            value = known.get(self.keys[index])
            if value is None:
                missing.append(index)
            else:
                self._apply(self.bib.entries[index], value)
        self.pending = missing
        self.bib.from_cache = len(self.bib.entries) - len(missing)
        if missing or not self.declarations_known:
            return False
        self._finish()
        return True

    def fill(self, pause: Callable[[Callable[[], bool]], None] | None = None) -> None:
        """Every field: from the cache, the rest parsed (`pause(awaited)` between entries: `parse_bib_text`)."""
        if not self.take_from_cache():
            self.parse_the_rest(pause)

    def parse_the_rest(self, pause: Callable[[Callable[[], bool]], None] | None = None) -> None:
        parsed = {}
        if not self.declarations_known:
            parsed[self.declarations_key] = value = self._parse_declarations()
            self._apply_declarations(value)
        for index in self.pending:
            if pause is not None:
                pause(self._awaited)
            entry = self.bib.entries[index]
            parsed[self.keys[index]] = value = parse_fields(entry, self.bib.strings)
            self._apply(entry, value)
        self.cache.put_many(parsed)
        self._finish()

    def _awaited(self) -> bool:
        return self.bib.awaited

    def _parse_declarations(self) -> dict:
        strings: dict[str, str] = {}
        preambles: list[str] = []
        errors: list[tuple[int, str]] = []
        lines = BibLineIndex(self.bib.text)
        for block in self.declarations:
            raw = self.bib.text[block.start : block.end]
            try:
                if block.kind == "string":
                    name, value = parse_string_definition(raw, strings)
                    strings[name] = value
                else:
                    preambles.append(parse_preamble(raw, strings))
            except FieldParseError as error:
                errors.append((lines.position(block.start)[0] + 1, f"@{block.entry_type}: {error}"))
        return {"strings": strings, "preambles": preambles, "errors": errors}

    def _apply_declarations(self, value: dict) -> None:
        self.bib.strings.update(value["strings"])
        self.bib.preambles.extend(value["preambles"])
        self.bib.errors.extend(SourceError(self.bib.path, line, message) for line, message in value["errors"])
        self.declarations_known = True

    def _apply(self, entry: BibEntry, value: dict) -> None:
        entry.fields = dict(value["fields"])
        if value.get("error"):
            self.bib.errors.append(SourceError(self.bib.path, entry.line, f"entry {entry.key!r}: {value['error']}"))
        for name in value.get("undefined", ()):
            self.bib.errors.append(UndefinedString(self.bib.path, entry.line, entry.key, name))

    def _finish(self) -> None:
        _resolve_crossrefs(self.bib)
        self.bib.errors.sort(key=lambda error: error.line or 0)
        self.bib.fields_ready.set()


def _parseable(raw: str) -> str:
    """An entry cut short by unbalanced braces gets its closing brace back, so its fields still read."""
    if raw.endswith("}") or raw.endswith(")"):
        return raw
    depth = raw.count("{") - raw.count("}")
    return raw + "}" * depth if depth > 0 else raw


_LARGEST_ENTRY = 2_000_000


def parse_fields(entry: BibEntry, macros: dict[str, str]) -> dict:
    """{fields, undefined (macro names), error} of one entry, macros expanded."""
    if len(entry.raw) > _LARGEST_ENTRY:
        return {"fields": {}, "undefined": [], "error": f"entry is {len(entry.raw) // 1_000_000} MB long; its fields were not read"}
    try:
        fields, undefined = parse_entry_fields(_parseable(entry.raw), macros)
    except FieldParseError as error:
        return {"fields": {}, "undefined": [], "error": str(error)}
    return {"fields": fields, "undefined": undefined, "error": ""}


_INHERITED_TITLE = {"title": "booktitle", "subtitle": "booksubtitle", "titleaddon": "booktitleaddon"}


def _resolve_crossrefs(bib: BibFile) -> None:
    """Fill fields an entry lacks from its `crossref` parent (one level, like BibTeX; the
    parent's title becomes the child's booktitle). A missing parent is reported."""
    by_key = {}
    for entry in bib.entries:
        by_key.setdefault(entry.key.lower(), entry)
    for entry in bib.entries:
        parent_key = entry.fields.get("crossref")
        if not parent_key:
            continue
        parent = by_key.get(parent_key.lower())
        if parent is None:
            bib.errors.append(SourceError(bib.path, entry.line, f"entry {entry.key!r}: crossref {parent_key!r} is not in this file"))
            continue
        if parent is entry:
            bib.errors.append(SourceError(bib.path, entry.line, f"entry {entry.key!r}: crossref names the entry itself"))
            continue
        inherit_crossref_fields(entry, parent)


def inherit_crossref_fields(entry: BibEntry, parent: BibEntry) -> None:
    for name, value in parent.fields.items():
        target = _INHERITED_TITLE.get(name, name)
        if name not in ("crossref", "ids", "key") and target not in entry.fields:
            entry.fields[target] = value


# --- entries as references -------------------------------------------------------------------

_KNOWN_FIELDS = {
    "title", "author", "editor", "year", "date", "journal", "journaltitle", "booktitle", "volume", "number",
    "issue", "pages", "publisher", "institution", "school", "organization", "doi", "eprint", "archiveprefix",
    "eprinttype", "url", "abstract", "keywords", "month",
}


def entry_to_reference(entry: BibEntry, path: str) -> Reference:
    """The reference an entry describes: LaTeX turned into Unicode, names split, ids normalised."""
    fields = entry.fields
    text = {name: latex_to_unicode(value) for name, value in fields.items() if name not in ("url", "doi", "file")}
    date = fields.get("date", "")
    year = fields.get("year", "") or date[:4]
    return Reference(
        key=entry.key,
        entry_type=entry.entry_type,
        title=text.get("title", ""),
        authors=parse_names(fields.get("author", "")),
        editors=parse_names(fields.get("editor", "")),
        year=re.sub(r"\D", "", year)[:4] if re.search(r"\d{4}", year) else year,
        date=date,
        journal=text.get("journal") or text.get("journaltitle", ""),
        booktitle=text.get("booktitle", ""),
        volume=text.get("volume", ""),
        number=text.get("number") or text.get("issue", ""),
        pages=fields.get("pages", "").replace("--", "-").replace("–", "-").strip(),
        publisher=text.get("publisher", ""),
        institution=text.get("institution") or text.get("school") or text.get("organization", ""),
        doi=normalize_doi(fields.get("doi", "")),
        arxiv=_arxiv_id(fields),
        url=fields.get("url", ""),
        abstract=text.get("abstract", ""),
        keywords=[word.strip() for word in re.split(r"[;,]", text.get("keywords", "")) if word.strip()],
        extra_fields={name: value for name, value in fields.items() if name not in _KNOWN_FIELDS},
        origin=Origin(path, entry.line),
    )


def _arxiv_id(fields: dict[str, str]) -> str:
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    if archive == "arxiv" and fields.get("eprint"):
        return normalize_arxiv(fields["eprint"])
    for name in ("journal", "url", "note"):
        value = fields.get(name, "")
        if "arxiv" in value.lower():
            found = normalize_arxiv(value)
            if found:
                return found
    return ""
