"""The offline zotero.sqlite reader, on the real database from Better BibTeX's test profile."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from citewise.bib.errors import SourceError
from citewise.bib.readers import read_path
from citewise.bib.zotero.sqlite_reader import read_zotero_sqlite

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "readers" / "zotero.sqlite"
REGULAR_ITEMS = {"article": 41, "incollection": 8}
"""The user library's regular items; the 5 journalArticles of the feed library are not in it."""


@pytest.fixture
def database(tmp_path) -> Path:
    copy = tmp_path / "zotero.sqlite"
    shutil.copyfile(FIXTURE, copy)
    return copy


def _item_id(connection: sqlite3.Connection, zotero_key: str) -> int:
    return connection.execute("SELECT itemID FROM items WHERE key = ?", (zotero_key,)).fetchone()[0]


def _drop_citation_key(connection: sqlite3.Connection, item_id: int) -> None:
    connection.execute(
        "DELETE FROM itemData WHERE itemID = ?"
        " AND fieldID = (SELECT fieldID FROM fieldsCombined WHERE fieldName = 'citationKey')",
        (item_id,),
    )


def test_regular_items_of_the_library_are_read_with_their_stored_keys():
    references = read_zotero_sqlite(FIXTURE)

    assert Counter(ref.entry_type for ref in references) == REGULAR_ITEMS
    connection = sqlite3.connect(FIXTURE)
    stored = {
        key for (key,) in connection.execute(
            "SELECT value FROM itemData JOIN fieldsCombined USING (fieldID) JOIN itemDataValues USING (valueID)"
            " WHERE fieldName = 'citationKey'"
        )
    }
    assert {ref.key for ref in references} == stored
    assert len({ref.zotero_key for ref in references}) == 49
    assert all(ref.title and ref.year and ref.authors for ref in references)
    assert all(ref.origin.source == str(FIXTURE) for ref in references)


def test_fields_and_creators_of_an_article_and_a_book_section():
    references = {ref.zotero_key: ref for ref in read_zotero_sqlite(FIXTURE)}

    article = references["6STQAJ5F"]
    assert (article.key, article.title, article.year, article.date) == ("shelah1969", "Stable theories", "1969", "1969")
    assert article.journal == "Israel Journal of Mathematics"
    assert (article.volume, article.pages) == ("7", "187-202")
    assert [a.display() for a in article.authors] == ["Shelah, Saharon"]

    chapter = references["6Q6828LG"]
    assert chapter.entry_type == "incollection"
    assert chapter.key == "erdos1972a"
    assert chapter.title == "On problems of Moser and Hanson"
    assert chapter.booktitle.startswith("Graph theory and applications")
    assert chapter.publisher == "Springer, Berlin"
    assert chapter.extra_fields["series"] == "Lecture Notes in Mathematics"


def test_items_in_the_trash_are_skipped(database):
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (_item_id(connection, "6STQAJ5F"),))

    references = read_zotero_sqlite(database)

    assert len(references) == 48
    assert "6STQAJ5F" not in {ref.zotero_key for ref in references}


def test_a_database_zotero_holds_locked_is_read_from_a_copy_including_its_wal(database):
    zotero = sqlite3.connect(database)
    zotero.execute("PRAGMA journal_mode = WAL")
    zotero.execute("PRAGMA wal_autocheckpoint = 0")
    zotero.execute("PRAGMA locking_mode = EXCLUSIVE")
    zotero.execute(
        "UPDATE itemDataValues SET value = 'Stable theories (revised)' WHERE value = 'Stable theories'"
    )
    zotero.commit()
    try:
        assert database.with_name("zotero.sqlite-wal").exists()
        direct = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            direct.execute("SELECT count(*) FROM items").fetchone()
        direct.close()

        titles = {ref.zotero_key: ref.title for ref in read_zotero_sqlite(database)}
    finally:
        zotero.close()

    assert titles["6STQAJ5F"] == "Stable theories (revised)"
    assert len(titles) == 49


def test_reading_never_changes_the_database(database):
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    read_zotero_sqlite(database)

    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in database.parent.iterdir()) == ["zotero.sqlite"]


def test_keys_fall_back_to_extra_then_better_bibtex_then_the_formula(database):
    with sqlite3.connect(database) as connection:
        with_extra, with_bbt, without = (_item_id(connection, key) for key in ("6STQAJ5F", "KG9BBSIH", "4JQC7AVV"))
        for item_id in (with_extra, with_bbt, without):
            _drop_citation_key(connection, item_id)
        connection.execute("INSERT INTO itemDataValues (value) VALUES ('Citation Key: pinnedInExtra')")
        connection.execute(
            "INSERT INTO itemData (itemID, fieldID, valueID) VALUES (?, "
            "(SELECT fieldID FROM fieldsCombined WHERE fieldName = 'extra'), last_insert_rowid())",
            (with_extra,),
        )
    with sqlite3.connect(database.with_name("better-bibtex.sqlite")) as bbt:
        bbt.execute(
            "CREATE TABLE citationkey (itemID INTEGER, itemKey TEXT, libraryID INTEGER, citationKey TEXT, pinned INTEGER)"
        )
        bbt.execute("INSERT INTO citationkey VALUES (?, 'KG9BBSIH', 1, 'fromBetterBibTeX', 0)", (with_bbt,))

    references = {ref.zotero_key: ref for ref in read_zotero_sqlite(database)}

    assert references["6STQAJ5F"].key == "pinnedInExtra"
    assert references["KG9BBSIH"].key == "fromBetterBibTeX"
    generated = references["4JQC7AVV"].key
    assert generated and generated.lower().startswith("shelah")
    assert len({ref.key for ref in references.values()}) == 49


def test_better_bibtex_keys_are_also_found_in_zotero_sqlite_itself(database):
    with sqlite3.connect(database) as connection:
        item_id = _item_id(connection, "KG9BBSIH")
        _drop_citation_key(connection, item_id)
        connection.execute("CREATE TABLE citationkey (itemID INTEGER, citationKey TEXT)")
        connection.execute("INSERT INTO citationkey VALUES (?, 'insideZotero')", (item_id,))

    references = {ref.zotero_key: ref for ref in read_zotero_sqlite(database)}

    assert references["KG9BBSIH"].key == "insideZotero"
    assert references["6STQAJ5F"].key == "shelah1969"


def test_a_sqlite_file_that_is_not_zotero_is_an_error(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE papers (title TEXT)")

    with pytest.raises(SourceError, match="a SQLite database, but not a Zotero library"):
        read_zotero_sqlite(other)
    result = read_path(other)
    assert result.references == []
    assert [str(error) for error in result.errors] == [
        f"{other}: a SQLite database, but not a Zotero library (zotero.sqlite)"
    ]


def test_a_damaged_database_is_an_error_not_a_crash(tmp_path):
    damaged = tmp_path / "zotero.sqlite"
    data = FIXTURE.read_bytes()
    damaged.write_bytes(data[:100] + b"\xff" * 50_000 + data[50_100:])

    result = read_path(damaged)

    assert result.references == []
    assert len(result.errors) == 1
    assert result.errors[0].path == str(damaged)


def test_read_path_detects_the_database_by_content(tmp_path):
    library = tmp_path / "library" / "profile.db"
    library.parent.mkdir()
    shutil.copyfile(FIXTURE, library)

    result = read_path(tmp_path)

    assert result.errors == []
    assert result.files == [str(library)]
    assert Counter(ref.entry_type for ref in result.references) == REGULAR_ITEMS
