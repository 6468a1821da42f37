"""Write the .bib a draft needs: exactly the entries it cites, and what those entries depend on.

Each cited key is looked up in the draft's declared .bib files, then in the
extra files given, then in the index. Entries from .bib files are copied
verbatim (their raw text); index-only references are written by the BibTeX
writer. Dependencies come along: `crossref`/`xref`/`xdata` parents and the
`@string` macros an entry (or a macro it uses) refers to, from its own file or one
listed before it (BibTeX reads a bibliography as one stream: `\\bibliography{IEEEabrv,refs}`);
`@preamble` blocks of every file that contributed an entry are kept too. `\\nocite{*}` pulls in every
entry of the draft's declared files.

Output is deterministic: `@preamble`s, then `@string`s sorted by name, then
entries sorted by key, except that cross-referenced parents come last, where
BibTeX requires them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citewise.bib.bibtex.bibliography import with_earlier_strings
from citewise.bib.bibtex.reader import BibEntry, BibFile, read_bib_file
from citewise.bib.bibtex.scan import scan_blocks
from citewise.bib.bibtex.writer import format_entry
from citewise.bib.errors import CitewiseError, SourceError, UndefinedString
from citewise.bib.files import NO_SUCH_FILE
from citewise.server.drafts.model import Draft

PARENT_FIELDS = ("crossref", "xref", "xdata")
BUILTIN_MACROS = frozenset({"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"})
_STRING_NAME = re.compile(r"@\s*string\s*[{(]\s*([^\s=#{}(),]+)\s*=", re.I)
_MACRO_REFERENCE = re.compile(r"[=#]\s*([A-Za-z_][^\s,#{}\"=()]*)")


@dataclass
class BibResult:
    """The generated .bib text, the keys in it, where each came from, and the keys not found."""

    text: str
    keys: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    missing_keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Chosen:
    key: str
    text: str
    source: str
    bib: BibFile | None = None
    is_parent: bool = False


def generate_bib(drafts: Sequence[Draft], extra_bibs: Iterable[str | Path] = (), index=None, include_index: bool = False) -> BibResult:
    """The .bib for `drafts`; `index` is a citewise Index or None; `include_index` adds every indexed reference."""
    declared = _unique(path for draft in drafts for path in draft.bib_files)
    library = _Library([*declared, *map(str, extra_bibs)])
    wanted = _unique(key for draft in drafts for key in draft.cited_keys() if key != "*")
    if any("*" in draft.cited_keys() for draft in drafts):
        wanted += [entry.key for path in declared for entry in library.entries_of(path)]
    if include_index:
        if index is None:
            raise CitewiseError("exporting the whole index needs an index, and there is none")
        wanted += index.all_keys()
    chosen, missing = _resolve(wanted, library, index)
    undefined = [str(error) for item in _ordered(chosen) if item.bib is not None for error in item.bib.errors
                 if isinstance(error, UndefinedString) and error.key == item.key]
    result = BibResult(text=_render(chosen, library), missing_keys=missing, warnings=library.warnings + undefined)
    for item in _ordered(chosen):
        result.keys.append(item.key)
        result.sources[item.key] = item.source
    return result


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class _Library:
    """The .bib files to search, read once each and in order, each with the @strings of those
    before it; unreadable ones become warnings."""

    def __init__(self, paths: list[str]):
        self.paths = _unique(paths)
        self.files: dict[str, BibFile | None] = {}
        self.strings: dict[str, dict[str, str]] = {}
        self.warnings: list[str] = []

    def file(self, path: str) -> BibFile | None:
        if path not in self.files:
            earlier = self._earlier(path)
            self.files[path] = None
            try:
                self.files[path] = with_earlier_strings(read_bib_file(path), self._strings_of(earlier))
            except SourceError as error:
                missing = error.message == NO_SUCH_FILE
                self.warnings.append(f"{path}: bibliography not found" if missing else str(error))
        return self.files[path]

    def _earlier(self, path: str) -> list[str]:
        return self.paths[: self.paths.index(path)] if path in self.paths else []

    def _strings_of(self, paths: list[str]) -> dict[str, str]:
        strings: dict[str, str] = {}
        for bib in filter(None, (self.file(path) for path in paths)):
            strings.update(bib.strings)
        return strings

    def string_definitions(self, bib: BibFile) -> dict[str, str]:
        """Raw `@string` blocks an entry of `bib` can use, by lowercased name: its own file's
        (the first definition wins), else the latest of the files listed before it."""
        if bib.path not in self.strings:
            definitions: dict[str, str] = {}
            for earlier in filter(None, (self.file(path) for path in self._earlier(bib.path))):
                definitions.update(self._own_definitions(earlier))
            definitions.update(self._own_definitions(bib))
            self.strings[bib.path] = definitions
        return self.strings[bib.path]

    @staticmethod
    def _own_definitions(bib: BibFile) -> dict[str, str]:
        definitions: dict[str, str] = {}
        for raw in _blocks_of(bib, "string"):
            name = _STRING_NAME.match(raw)
            if name:
                definitions.setdefault(name.group(1).lower(), raw)
        return definitions

    def entries_of(self, path: str) -> list[BibEntry]:
        bib = self.file(path)
        return bib.entries if bib else []

    def find(self, key: str, first: BibFile | None = None) -> tuple[BibFile, BibEntry] | None:
        candidates = ([first] if first else []) + [self.file(path) for path in self.paths]
        for bib in candidates:
            entry = bib.entry(key) if bib else None
            if entry is not None:
                return bib, entry
        return None


def _resolve(wanted: list[str], library: _Library, index) -> tuple[dict[str, _Chosen], list[str]]:
    chosen: dict[str, _Chosen] = {}
    missing: list[str] = []
    queue: list[tuple[str, BibFile | None, bool]] = [(key, None, False) for key in wanted]
    while queue:
        key, referring_bib, is_parent = queue.pop(0)
        folded = key.lower()
        if folded in chosen:
            chosen[folded].is_parent |= is_parent
            continue
        found = library.find(key, referring_bib)
        if found is not None:
            bib, entry = found
            chosen[folded] = _Chosen(entry.key, entry.raw.strip(), bib.path, bib, is_parent)
            queue += [(parent, bib, True) for parent in _parents(entry)]
            continue
        ref = index.get(key) if index is not None else None
        if ref is not None:
            chosen[folded] = _Chosen(ref.key, format_entry(ref).strip(), "index", None, is_parent)
        elif key not in missing:
            missing.append(key)
    return chosen, sorted(missing, key=str.lower)


def _parents(entry: BibEntry) -> list[str]:
    parents = []
    for name in PARENT_FIELDS:
        value = entry.fields.get(name, "")
        parents += [part.strip() for part in value.split(",") if part.strip()]
    return parents


def _ordered(chosen: dict[str, _Chosen]) -> list[_Chosen]:
    return sorted(chosen.values(), key=lambda item: (item.is_parent, item.key.lower(), item.key))


def _render(chosen: dict[str, _Chosen], library: _Library) -> str:
    entries = _ordered(chosen)
    contributing = _unique(item.source for item in entries if item.bib is not None)
    preambles = [raw for path in contributing for raw in _blocks_of(library.file(path), "preamble")]
    strings = _needed_strings(entries, library)
    blocks = preambles + [strings[name] for name in sorted(strings)] + [item.text for item in entries]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _blocks_of(bib: BibFile | None, kind: str) -> list[str]:
    if bib is None:
        return []
    return [bib.text[block.start : block.end].strip() for block in scan_blocks(bib.text) if block.kind == kind and not block.problem]


def _needed_strings(entries: list[_Chosen], library: _Library) -> dict[str, str]:
    """Raw `@string` blocks (by lowercased name) the entries use, directly or through other macros."""
    needed: dict[str, str] = {}
    for item in entries:
        if item.bib is None:
            continue
        definitions = library.string_definitions(item.bib)
        pending = list(_macro_names(item.text))
        while pending:
            name = pending.pop()
            if name in needed or name not in definitions:
                continue
            needed[name] = definitions[name]
            pending += _macro_names(definitions[name])
    return needed


def _macro_names(raw: str) -> set[str]:
    """Lowercased names of macros a raw entry or @string uses as (part of) a field value."""
    return {name.lower() for name in _MACRO_REFERENCE.findall(_outside_values(raw))} - BUILTIN_MACROS


def _outside_values(raw: str) -> str:
    """The raw block with braced and quoted values blanked, leaving field names, `=`, `#` and macro names."""
    kept = []
    depth = 0
    quoted = False
    for char in raw:
        if char in "{(" and depth == 0:
            depth = 1
            kept.append("{")
        elif char == "{" and not quoted:
            depth += 1
            kept.append(" ")
        elif char == "}" and not quoted and depth > 1:
            depth -= 1
            kept.append(" ")
        elif char == '"' and depth == 1:
            quoted = not quoted
            kept.append(" ")
        else:
            kept.append(char if depth == 1 and not quoted else " ")
    return "".join(kept)
