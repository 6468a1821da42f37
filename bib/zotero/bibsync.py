"""Keeping the workspace's .bib files in step with Zotero: minimal edits, nothing removed.

After a sync, every .bib entry whose key belongs to a changed Zotero item is rewritten in place
(only that entry's text changes, and only when its fields differ from the item's). The entry keeps
its style (BibLaTeX `journaltitle`/`date` stays BibLaTeX) and the fields the author added that
Zotero does not hold (`note`, `file`, …). An entry whose item was deleted in Zotero is reported
and left alone. Each file is written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from citewise.bib.bibtex.edit import apply_edit, replace_entry_edit
from citewise.bib.bibtex.reader import BibEntry, parse_bib_text, read_bib_file
from citewise.bib.bibtex.writer import FIELD_ORDER, format_entry
from citewise.bib.files import write_atomically
from citewise.bib.model import Reference


@dataclass
class BibSyncResult:
    """Per file, the keys rewritten; and (file, key) pairs whose Zotero item is gone."""

    updated: dict[str, list[str]] = field(default_factory=dict)
    deleted_in_zotero: list[tuple[str, str]] = field(default_factory=list)


def sync_bib_files(
    bib_paths: Iterable[str],
    changed: Iterable[Reference],
    removed_keys: Iterable[str] = (),
) -> BibSyncResult:
    """Update the entries of `changed` references in each file; report entries of `removed_keys`."""
    by_key = {ref.key: ref for ref in changed}
    removed = set(removed_keys)
    result = BibSyncResult()
    for path in bib_paths:
        path = str(path)
        new_text, keys = updated_bib_text(read_bib_file(path).text, by_key, path)
        if keys:
            write_atomically(path, new_text)
            result.updated[path] = keys
        present = {entry.key for entry in parse_bib_text(new_text, path).entries}
        result.deleted_in_zotero.extend((path, key) for key in sorted(removed & present))
    return result


def updated_bib_text(text: str, refs_by_key: dict[str, Reference], path: str = "") -> tuple[str, list[str]]:
    """The text with each entry of `refs_by_key` replaced where its fields changed, and those keys."""
    updated = []
    for entry in parse_bib_text(text, path).entries:
        ref = refs_by_key.get(entry.key)
        if ref is None:
            continue
        entry_text = _entry_text(ref, entry)
        if _fields_of(entry_text) == entry.fields:
            continue
        edit = replace_entry_edit(text, entry.key, entry_text)
        if edit is not None:
            text = apply_edit(text, edit)
            updated.append(entry.key)
    return text, updated


def _entry_text(ref: Reference, entry: BibEntry) -> str:
    """The item as an entry in the old entry's style, with the author's own extra fields kept."""
    own_fields = {name: value for name, value in entry.fields.items() if name not in FIELD_ORDER}
    biblatex = "journaltitle" in entry.fields or "eprinttype" in entry.fields or (
        "date" in entry.fields and "year" not in entry.fields
    )
    merged = replace(ref, extra_fields={**own_fields, **ref.extra_fields})
    return format_entry(merged, "biblatex" if biblatex else "bibtex")


def _fields_of(entry_text: str) -> dict[str, str]:
    entries = parse_bib_text(entry_text).entries
    return entries[0].fields if entries else {}
