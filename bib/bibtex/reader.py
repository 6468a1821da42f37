"""Reading .bib files: entries with their exact spans, fields, macros, preambles and problems.

Reading goes in two steps. The scanner (scan.py) finds every entry's key and span in
milliseconds; bibtexparser (through parse.py) then reads each entry's fields, which is slow
(about 2 ms an entry), so fields come from the per-entry cache (cache.py) whenever the entry's
raw text has been read before. `read_bib_file(path, wait=False)` returns at once with keys and
spans and fills the fields in a background thread (`BibFile.wait_for_fields()`).

A broken entry never costs the others: it is reported in `BibFile.errors` as `path:line: …`.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from citewise.bib.bibtex.cache import FieldCache, entry_hash, shared_cache
from citewise.bib.bibtex.names import parse_names
from citewise.bib.bibtex.latex import latex_to_unicode
from citewise.bib.bibtex.parse import FieldParseError, parse_entry_fields, parse_preamble, parse_string_definition
from citewise.bib.bibtex.scan import Block, LineIndex, Span, scan_blocks
from citewise.bib.errors import SourceError
from citewise.bib.model import Origin, Reference, normalize_arxiv, normalize_doi

__all__ = ["BibEntry", "BibFile", "Span", "decode_bib_bytes", "entry_to_reference", "sniff_encoding", "parse_bib_text", "read_bib_file", "scan_entries"]


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

    @property
    def line(self) -> int:
        """1-based line of the `@`, as messages print it."""
        return self.span.start_line + 1


@dataclass
class BibFile:
    path: str
    text: str
    entries: list[BibEntry]
    strings: dict[str, str] = field(default_factory=dict)
    preambles: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    fields_ready: threading.Event = field(default_factory=threading.Event, repr=False)
    from_cache: int = 0
    """How many entries' fields came from the cache rather than from bibtexparser."""

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
        return self.fields_ready.wait(timeout)


def decode_bib_bytes(data: bytes, path: str = "") -> str:
    """Text of a .bib file: UTF-8 with or without BOM, UTF-16 with BOM, else the encoding
    JabRef declares (`% Encoding: …`), else Latin-1. Binary data raises SourceError."""
    codec, bom = sniff_encoding(data, path)
    return data[len(bom) :].decode(codec, errors="replace")


def sniff_encoding(data: bytes, path: str = "") -> tuple[str, bytes]:
    """(codec, byte-order mark) of a .bib file's bytes, as `decode_bib_bytes` reads them."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return codec, bom
    _reject_binary(data, path)
    try:
        data.decode("utf-8")
        return "utf-8", b""
    except UnicodeDecodeError:
        pass
    declared = re.search(rb"^% ?Encoding: *([\w.-]+)", data[:4096], re.MULTILINE)
    if declared:
        try:
            codec = codecs.lookup(declared.group(1).decode("ascii")).name
            data.decode(codec)
            return codec, b""
        except (LookupError, UnicodeDecodeError):
            pass
    return "latin-1", b""


def _reject_binary(data: bytes, path: str) -> None:
    sample = data[:65536]
    if b"\0" not in sample:
        return
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13))
    if controls >= 16 and controls > len(sample) // 10:
        raise SourceError(path, None, "binary data, not a BibTeX file")


def read_bib_file(path: str | Path, wait: bool = True, cache: FieldCache | None = None) -> BibFile:
    """Read and parse a .bib file. With `wait=False` keys and spans are there on return and the
    fields follow in a background thread. Raises SourceError when the file cannot be read at all."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SourceError(str(path), None, f"cannot read: {error.strerror or error}") from None
    return parse_bib_text(decode_bib_bytes(data, str(path)), str(path), wait=wait, cache=cache)


def scan_entries(text: str, path: str = "") -> list[BibEntry]:
    """Entries with key, type, span and raw text but no fields: the cheap path (no bibtexparser)."""
    return _entries_and_errors(text, path, scan_blocks(text), LineIndex(text))[0]


def parse_bib_text(text: str, path: str = "", wait: bool = True, cache: FieldCache | None = None) -> BibFile:
    """Parse .bib text (see `read_bib_file`)."""
    blocks = scan_blocks(text)
    entries, errors = _entries_and_errors(text, path, blocks, LineIndex(text))
    bib = BibFile(path, text, entries, errors=errors)
    _read_macros_and_preambles(bib, blocks)
    filler = _FieldFiller(bib, cache or shared_cache())
    if filler.fill_from_cache():
        bib.fields_ready.set()
    elif wait:
        filler.parse_the_rest()
    else:
        threading.Thread(target=filler.parse_the_rest, name="citewise-bib-fields", daemon=True).start()
    return bib


def _entries_and_errors(text: str, path: str, blocks: list[Block], lines: LineIndex) -> tuple[list[BibEntry], list[SourceError]]:
    entries: list[BibEntry] = []
    errors: list[SourceError] = []
    first_line_of: dict[str, int] = {}
    for block in blocks:
        span = lines.span(block.start, block.end)
        if block.problem:
            errors.append(SourceError(path, span.start_line + 1, block.problem))
        if block.kind != "entry" or not block.key:
            continue
        key_span = lines.span(block.key_start, block.key_end)
        entry = BibEntry(block.key, block.entry_type, {}, span, key_span, text[block.start : block.end])
        folded = block.key.lower()
        if folded in first_line_of:
            errors.append(SourceError(path, entry.line, f"duplicate key {block.key!r} (first at line {first_line_of[folded]}); both kept"))
        else:
            first_line_of[folded] = entry.line
        entries.append(entry)
    return entries, errors


def _read_macros_and_preambles(bib: BibFile, blocks: list[Block]) -> None:
    lines = LineIndex(bib.text)
    for block in blocks:
        if block.kind not in ("string", "preamble") or block.problem:
            continue
        raw = bib.text[block.start : block.end]
        try:
            if block.kind == "string":
                name, value = parse_string_definition(raw, bib.strings)
                bib.strings[name] = value
            else:
                bib.preambles.append(parse_preamble(raw, bib.strings))
        except FieldParseError as error:
            line = lines.position(block.start)[0] + 1
            bib.errors.append(SourceError(bib.path, line, f"@{block.entry_type}: {error}"))


class _FieldFiller:
    """Fills each entry's fields from the cache, or by parsing, then resolves crossrefs."""

    def __init__(self, bib: BibFile, cache: FieldCache):
        self.bib = bib
        self.cache = cache
        context = "\n".join(f"{name}={value}" for name, value in sorted(bib.strings.items()))
        self.hashes = [entry_hash(_parseable(entry.raw), context) for entry in bib.entries]
        self.pending: list[int] = []

    def fill_from_cache(self) -> bool:
        """Fields of every entry the cache knows; True when that was all of them."""
        known = self.cache.get_many(self.hashes)
        for index, (entry, digest) in enumerate(zip(self.bib.entries, self.hashes)):
            if digest in known:
                self._apply(entry, known[digest])
            else:
                self.pending.append(index)
        self.bib.from_cache = len(self.bib.entries) - len(self.pending)
        if not self.pending:
            self._finish()
            return True
        return False

    def parse_the_rest(self) -> None:
        parsed = {}
        for index in self.pending:
            entry = self.bib.entries[index]
            parsed[self.hashes[index]] = value = _parse_fields(entry, self.bib.strings)
            self._apply(entry, value)
        self.cache.put_many(parsed)
        self._finish()

    def _apply(self, entry: BibEntry, value: dict) -> None:
        entry.fields = dict(value["fields"])
        if value.get("error"):
            self.bib.errors.append(SourceError(self.bib.path, entry.line, f"entry {entry.key!r}: {value['error']}"))
        for name in value.get("undefined", ()):
            self.bib.errors.append(SourceError(self.bib.path, entry.line, f"entry {entry.key!r} uses undefined @string {name!r}"))

    def _finish(self) -> None:
        _resolve_crossrefs(self.bib)
        self.bib.errors.sort(key=lambda error: error.line or 0)
        self.bib.fields_ready.set()


def _parseable(raw: str) -> str:
    """An entry cut short by unbalanced braces gets its closing brace back, so its fields still read."""
    depth = raw.count("{") - raw.count("}")
    return raw + "}" * depth if depth > 0 else raw


_LARGEST_ENTRY = 2_000_000


def _parse_fields(entry: BibEntry, macros: dict[str, str]) -> dict:
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
        for name, value in parent.fields.items():
            target = _INHERITED_TITLE.get(name, name)
            if name in ("crossref", "ids", "key") or target in entry.fields:
                continue
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
