"""Offline, read-only access to a Zotero library through its `zotero.sqlite` file.

Zotero keeps its database locked while it runs, so the file (and its write-ahead log, and
Better BibTeX's `better-bibtex.sqlite` beside it) is copied to a temporary directory and the
copy is opened read-only. Regular items of the user and group libraries are read with their
fields, creators and tags; notes, attachments, annotations, items in the trash and feed
items are skipped. Items map to references exactly as Web API items do.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path

from citewise.bib.errors import SourceError
from citewise.bib.model import Origin, Reference
from citewise.bib.readers.source import fill_missing_keys
from citewise.bib.readers.zotero_json import NOT_REFERENCES, reference_without_generated_key

BBT_DATABASE = "better-bibtex.sqlite"
BBT_TABLE = "citationkey"

_ITEMS = """
    SELECT items.itemID, items.key, itemTypes.typeName
    FROM items
    JOIN itemTypesCombined AS itemTypes ON itemTypes.itemTypeID = items.itemTypeID
    JOIN libraries ON libraries.libraryID = items.libraryID
    WHERE libraries.type != 'feed'
      AND items.itemID NOT IN (SELECT itemID FROM deletedItems)
    ORDER BY items.itemID
"""
_FIELDS = """
    SELECT itemData.itemID, fields.fieldName, itemDataValues.value
    FROM itemData
    JOIN fieldsCombined AS fields ON fields.fieldID = itemData.fieldID
    JOIN itemDataValues ON itemDataValues.valueID = itemData.valueID
"""
_CREATORS = """
    SELECT itemCreators.itemID, creatorTypes.creatorType, creators.firstName, creators.lastName, creators.fieldMode
    FROM itemCreators
    JOIN creators ON creators.creatorID = itemCreators.creatorID
    JOIN creatorTypes ON creatorTypes.creatorTypeID = itemCreators.creatorTypeID
    ORDER BY itemCreators.itemID, itemCreators.orderIndex
"""
_TAGS = """
    SELECT itemTags.itemID, tags.name
    FROM itemTags JOIN tags ON tags.tagID = itemTags.tagID
    ORDER BY itemTags.itemID, tags.name
"""
_SINGLE_FIELD_NAME = 1
_ZOTERO_TABLES = {"items", "itemData", "itemDataValues", "fieldsCombined", "itemTypesCombined", "itemCreators",
                  "creators", "creatorTypes", "itemTags", "tags", "libraries", "deletedItems"}


def read_zotero_sqlite(path: str | Path) -> list[Reference]:
    """References for the regular items of a zotero.sqlite; raises SourceError if it is not one."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="citewise-zotero-") as workdir:
        connection = _open_copy(path, Path(workdir))
        try:
            _check_zotero_tables(connection, str(path))
            return _read_items(connection, str(path), _bbt_keys(connection, path, Path(workdir)))
        except sqlite3.DatabaseError as error:
            raise SourceError(str(path), None, f"not a readable Zotero database: {error}") from error
        finally:
            connection.close()


def _open_copy(path: Path, workdir: Path) -> sqlite3.Connection:
    """Copy a database and its write-ahead log (changes not yet in the main file) and open the copy read-only."""
    copy = workdir / path.name
    try:
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, workdir / wal.name)
    except OSError as error:
        raise SourceError(str(path), None, f"cannot copy the database: {error.strerror or error}") from error
    return sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _check_zotero_tables(connection: sqlite3.Connection, source: str) -> None:
    if not _ZOTERO_TABLES.issubset(_tables(connection)):
        raise SourceError(source, None, "a SQLite database, but not a Zotero library (zotero.sqlite)")


def _read_items(connection: sqlite3.Connection, source: str, bbt_keys: dict[int, str]) -> list[Reference]:
    fields, creators, tags = _fields(connection), _creators(connection), _tags(connection)
    references: list[Reference] = []
    for item_id, key, item_type in connection.execute(_ITEMS):
        if item_type in NOT_REFERENCES:
            continue
        data = {**fields[item_id], "key": key, "itemType": item_type}
        data["creators"] = creators[item_id]
        data["tags"] = tags[item_id]
        ref = reference_without_generated_key(data)
        ref.key = ref.key or bbt_keys.get(item_id, "")
        ref.origin = Origin(source)
        references.append(ref)
    fill_missing_keys(references)
    return references


def _fields(connection: sqlite3.Connection) -> dict[int, dict[str, str]]:
    """Field name -> value, per itemID, under the names the Web API uses."""
    fields: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, name, value in connection.execute(_FIELDS):
        fields[item_id][name] = str(value)
    return fields


def _creators(connection: sqlite3.Connection) -> dict[int, list[dict]]:
    """Creators per itemID, in order, shaped as Web API creators."""
    creators: dict[int, list[dict]] = defaultdict(list)
    for item_id, role, first, last, mode in connection.execute(_CREATORS):
        if mode == _SINGLE_FIELD_NAME:
            creators[item_id].append({"creatorType": role, "name": last or ""})
        else:
            creators[item_id].append({"creatorType": role, "firstName": first or "", "lastName": last or ""})
    return creators


def _tags(connection: sqlite3.Connection) -> dict[int, list[dict]]:
    tags: dict[int, list[dict]] = defaultdict(list)
    for item_id, name in connection.execute(_TAGS):
        tags[item_id].append({"tag": name})
    return tags


def _bbt_keys(connection: sqlite3.Connection, path: Path, workdir: Path) -> dict[int, str]:
    """Better BibTeX's citation keys by itemID: its `citationkey` table, in zotero.sqlite or in
    better-bibtex.sqlite beside it."""
    if BBT_TABLE in _tables(connection):
        return _citation_keys(connection)
    sidecar = path.with_name(BBT_DATABASE)
    if not sidecar.exists():
        return {}
    bbt = _open_copy(sidecar, workdir)
    try:
        return _citation_keys(bbt) if BBT_TABLE in _tables(bbt) else {}
    finally:
        bbt.close()


def _citation_keys(connection: sqlite3.Connection) -> dict[int, str]:
    return dict(connection.execute(f"SELECT itemID, citationKey FROM {BBT_TABLE} WHERE citationKey != ''"))
