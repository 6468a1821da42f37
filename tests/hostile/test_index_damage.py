"""A damaged but valid SQLite index (pages overwritten after the header): one line naming the way out, and `index rebuild`."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from hostile_support import assert_one_line_error, citewise

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def built(folder: Path) -> Path:
    shutil.copy(EXAMPLES / "library.bib", folder / "library.bib")
    shutil.copy(EXAMPLES / "daily-papers-digest.txt", folder / "digest.txt")
    index = folder / "index.sqlite"
    result = citewise("index", "add", folder / "library.bib", folder / "digest.txt", "--index", index, "--no-embed")
    assert result.returncode == 0, result.stderr
    return index


def damage(index: Path) -> Path:
    """Every other page overwritten, except those of the schema (which names the tables; the schema
    spans several pages, and one lost is the case of a file that is not an index any more)."""
    page = 4096
    size = index.stat().st_size
    assert index.read_bytes().startswith(b"SQLite format 3\x00") and size > 20 * page
    with sqlite3.connect(index) as db:
        schema = {number - 1 for (number,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'sqlite_schema'")}
    rng = random.Random(5)
    with index.open("r+b") as handle:
        for number in sorted(set(range(2, size // page, 2)) - schema):
            handle.seek(number * page + 100)
            handle.write(bytes(rng.randrange(256) for _ in range(page - 200)))
    return index


@pytest.fixture
def damaged(tmp_path) -> Path:
    return damage(built(tmp_path))


@pytest.mark.parametrize("argv", [["search", "diffusion"], ["index", "add", "{bib}", "--no-embed"],
                                  ["bib", "{draft}"]])
def test_damage_is_one_line_naming_rebuild(damaged, argv):
    (damaged.parent / "draft.tex").write_text("\\cite{nothere2020}\n", encoding="utf-8")
    names = {"bib": damaged.parent / "library.bib", "draft": damaged.parent / "draft.tex"}
    result = citewise(*(str(arg).format(**names) for arg in argv), "--index", damaged)
    assert_one_line_error(result, str(damaged), "the index is damaged", "citewise index rebuild")


def test_rebuild_rereads_the_sources_and_keeps_the_damaged_file(damaged):
    result = citewise("index", "rebuild", "--index", damaged, "--no-embed")
    assert result.returncode == 0, result.stderr
    assert "from 2 sources: added 76," in result.stdout and "index.sqlite.damaged" in result.stdout
    assert (damaged.parent / "index.sqlite.damaged").is_file()
    stats = citewise("index", "stats", "--index", damaged)
    assert stats.returncode == 0 and "references  76 " in stats.stdout
    found = citewise("search", "diffusion", "-k", "3", "--index", damaged, "--json")
    assert found.returncode == 0 and found.stdout.count('"key"') == 3


def test_rebuild_names_sources_that_are_gone(damaged):
    os.unlink(damaged.parent / "library.bib")
    result = citewise("index", "rebuild", "--index", damaged, "--no-embed")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "library.bib: not found, not re-read" in result.stderr and "from 1 sources: added 75," in result.stdout


def test_rebuild_reads_rows_by_seeking_whatever_the_largest_id(tmp_path):
    """Rows were once read by trying every id up to max(id): a garbage or far id (here 2**62)
    made a rebuild run for ever."""
    index = built(tmp_path)
    db = sqlite3.connect(index, isolation_level=None)
    db.execute("UPDATE refs SET id = ? WHERE id = (SELECT max(id) FROM refs)", (2**62,))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    result = citewise("index", "rebuild", "--index", index, "--no-embed", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "from 2 sources: added 76," in result.stdout and "index.sqlite.old" in result.stdout


def test_a_garbage_file_is_not_an_index(tmp_path):
    (tmp_path / "index.sqlite").write_bytes(os.urandom(8192))
    assert_one_line_error(citewise("index", "stats", "--index", tmp_path / "index.sqlite"), "not a citewise index")


def test_an_index_in_a_folder_named_with_uri_characters_is_read_and_rebuilt(tmp_path):
    """SQLite opens a read-only index through a file: URI; `#`, `?` and `%` in a folder name are
    percent-encoded there (rebuild once read `#…` as a fragment and found no sources)."""
    folder = tmp_path / "notes #1? 100%"
    folder.mkdir()
    index = built(folder)
    found = citewise("search", "diffusion", "-k", "1", "--index", index, "--json")
    assert found.returncode == 0 and found.stdout.count('"key"') == 1
    result = citewise("index", "rebuild", "--index", index, "--no-embed")
    assert result.returncode == 0, result.stderr
    assert "from 2 sources: added 76," in result.stdout


def test_the_damage_check_gives_up_past_its_time(tmp_path, monkeypatch):
    """An unexplained SQLite failure is checked for damage with `PRAGMA quick_check`, which reads
    the whole file (16.7 s for the 300,000-paper benchmark index, minutes at 3M): past
    QUICK_CHECK_SECONDS the plain message is given instead. Here a 90 MB file whose damage (a page
    counted in its header and used by nothing) shows only once every page was read, some 30 ms."""
    from citewise.bib.index import connection

    path = tmp_path / "large.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
        db.executemany("INSERT INTO t(body) VALUES (?)", ((os.urandom(400),) for _ in range(200_000)))
    with path.open("r+b") as handle:
        handle.seek(28)
        pages = int.from_bytes(handle.read(4), "big")
        handle.seek(28)
        handle.write((pages + 1).to_bytes(4, "big"))
        handle.seek(0, os.SEEK_END)
        handle.write(bytes(4096))
    db = sqlite3.connect(path, check_same_thread=False)
    error = sqlite3.OperationalError("disk I/O error")
    assert "is never used" in str(connection.as_citewise_error(path, error, db))
    monkeypatch.setattr(connection, "QUICK_CHECK_SECONDS", 0.003)
    assert str(connection.as_citewise_error(path, error, db)) == f"{path}: disk I/O error"
    db.close()
