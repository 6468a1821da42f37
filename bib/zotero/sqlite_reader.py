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
        copy = _copy_database(path, Path(workdir))
        connection = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)
        try:
            return _read_items(connection, str(path), _bbt_keys(path, Path(workdir)))
        except sqlite3.DatabaseError as error:
            raise SourceError(str(path), None, f"not a readable Zotero database: {error}") from error
        finally:
            connection.close()


def _copy_database(path: Path, workdir: Path) -> Path:
    """Copy the database and its write-ahead log, so uncommitted-to-file changes are seen too."""
    copy = workdir / path.name
    try:
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, workdir / wal.name)
    except OSError as error:
        raise SourceError(str(path), None, f"cannot copy the database: {error.strerror or error}") from error
    return copy


def _read_items(connection: sqlite3.Connection, source: str, bbt_keys: dict[int, str]) -> list[Reference]:
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not _ZOTERO_TABLES <= tables:
        raise SourceError(source, None, "a SQLite database, but not a Zotero library (zotero.sqlite)")
    fields: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, name, value in connection.execute(_FIELDS):
        fields[item_id][name] = str(value)
    creators: dict[int, list[dict]] = defaultdict(list)
    for item_id, role, first, last, mode in connection.execute(_CREATORS):
        if mode == _SINGLE_FIELD_NAME:
            creators[item_id].append({"creatorType": role, "name": last or ""})
        else:
            creators[item_id].append({"creatorType": role, "firstName": first or "", "lastName": last or ""})
    tags: dict[int, list[dict]] = defaultdict(list)
    for item_id, name in connection.execute(_TAGS):
        tags[item_id].append({"tag": name})

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


def _bbt_keys(path: Path, workdir: Path) -> dict[int, str]:
    """Better BibTeX's citation keys by itemID, from better-bibtex.sqlite beside zotero.sqlite."""
    bbt = path.with_name(BBT_DATABASE)
    if not bbt.exists():
        return {}
    copy = _copy_database(bbt, workdir)
    connection = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)
    try:
        return dict(connection.execute("SELECT itemID, citationKey FROM citationkey WHERE citationKey != ''"))
    except sqlite3.DatabaseError:
        return {}
    finally:
        connection.close()
