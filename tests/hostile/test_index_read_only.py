"""An index in a read-only folder, or a read-only index file, can be read: stats, search, suggest, bib."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import immutable
from hostile_support import assert_one_line_error, citewise

from citewise.bib.index.sqlite_schema import SCHEMA_VERSION

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(params=["folder", "file"])
def frozen_index(request, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    index = folder / "index.sqlite"
    result = citewise("index", "add", EXAMPLES / "library.bib", "--index", index, "--no-embed")
    assert result.returncode == 0, result.stderr
    with immutable(*([folder, index] if request.param == "folder" else [index])):
        yield index


def test_reading_commands_work_on_a_read_only_index(frozen_index, tmp_path):
    before = frozen_index.read_bytes()
    stats = citewise("index", "stats", "--index", frozen_index)
    assert stats.returncode == 0, stats.stderr
    assert "references  5 " in stats.stdout
    search = citewise("search", "attention", "--index", frozen_index, "--json")
    assert search.returncode == 0 and "vaswani" in search.stdout.lower(), search.stderr
    draft = tmp_path / "draft.tex"
    draft.write_text("We build on transformers for sequence modelling and attention \\cite{vaswaniAttentionAllYou2017}.\n", encoding="utf-8")
    bib = citewise("bib", draft, "--index", frozen_index)
    assert bib.returncode == 0 and bib.stdout.startswith("@inproceedings{vaswaniAttentionAllYou2017,"), bib.stderr
    suggest = citewise("suggest", draft, "--index", frozen_index, "--json")
    assert suggest.returncode == 0, suggest.stderr
    assert frozen_index.read_bytes() == before


def _set_back_to_schema_10(index: Path) -> None:
    """The file as citewise left it before schema 11 (completion's words table)."""
    db = sqlite3.connect(index, isolation_level=None)
    db.execute("DROP TABLE refs_names")
    db.execute("PRAGMA user_version = 10")
    db.close()


def test_a_search_first_after_an_upgrade_brings_an_older_index_up_to_date(tmp_path):
    """`citewise search` reads the index read-only. On a file from before schema 11 a short query
    failed with "no such table: refs_names" (after checking the whole file for damage); a file it
    may write is now migrated first, as any writing command would."""
    index = tmp_path / "index.sqlite"
    assert citewise("index", "add", EXAMPLES / "library.bib", "--index", index, "--no-embed").returncode == 0
    _set_back_to_schema_10(index)
    search = citewise("search", "vaswani 2017", "--index", index, "--json")
    assert search.returncode == 0 and "vaswani" in search.stdout.lower(), search.stderr
    assert sqlite3.connect(index).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_older_index_that_cannot_be_written_is_read_or_named_in_one_line(tmp_path):
    """The same file where nothing may write it: read as it is; what needs the newer schema ends
    with one line naming the file and the way out, not a check of the whole file."""
    index = tmp_path / "index.sqlite"
    assert citewise("index", "add", EXAMPLES / "library.bib", "--index", index, "--no-embed").returncode == 0
    _set_back_to_schema_10(index)
    with immutable(index):
        long = citewise("search", "attention is all you need for sequence transduction models", "--index", index, "--json")
        assert long.returncode == 0 and "vaswani" in long.stdout.lower(), long.stderr
        short = citewise("search", "vaswani 2017", "--index", index)
        assert_one_line_error(short, str(index), "no such table: refs_names", "another version of citewise",
                              "a command that may write it")
    assert sqlite3.connect(index).execute("PRAGMA user_version").fetchone()[0] == 10
