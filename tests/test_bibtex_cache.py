"""The persistent per-entry field cache: second reads come from it, one changed entry is reparsed alone."""

from __future__ import annotations

from citewise.bib.bibtex.cache import FieldCache, cache_dir
from citewise.bib.bibtex.reader import CACHED_FIELDS_AT_ONCE_CHARS, parse_bib_text, read_bib_file


def library(count: int, changed: int | None = None) -> str:
    return "".join(
        f"@article{{k{i},\n  title = {{Title {i}{' changed' if i == changed else ''}}},\n  year = {{2000}}\n}}\n\n" for i in range(count)
    )


def test_cache_lives_where_the_environment_says(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    path = tmp_path / "refs.bib"
    path.write_text(library(3))
    read_bib_file(path, cache=FieldCache())
    assert (tmp_path / "here" / "bibtex-fields.sqlite").is_file()


def test_second_read_in_a_new_process_comes_from_disk(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(library(50))
    first = read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    assert first.from_cache == 0
    later_process = FieldCache(tmp_path / "cache")
    second = read_bib_file(path, cache=later_process)
    assert second.from_cache == 50
    assert second.fields_ready.is_set()
    assert [entry.fields for entry in second.entries] == [entry.fields for entry in first.entries]


def test_one_changed_entry_is_the_only_one_parsed(tmp_path):
    path = tmp_path / "refs.bib"
    cache = FieldCache(tmp_path / "cache")
    path.write_text(library(50))
    read_bib_file(path, cache=cache)
    path.write_text(library(50, changed=7))
    again = read_bib_file(path, cache=cache)
    assert again.from_cache == 49
    assert again.entry("k7").fields["title"] == "Title 7 changed"


def test_a_changed_macro_invalidates_entries_that_use_it(tmp_path):
    path = tmp_path / "refs.bib"
    cache = FieldCache(tmp_path / "cache")
    path.write_text('@string{j = "Old"}\n@article{k, journal = j}\n')
    assert read_bib_file(path, cache=cache).entries[0].fields["journal"] == "Old"
    path.write_text('@string{j = "New"}\n@article{k, journal = j}\n')
    assert read_bib_file(path, cache=cache).entries[0].fields["journal"] == "New"


def test_unwritable_cache_only_costs_speed(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    path = tmp_path / "refs.bib"
    path.write_text(library(2))
    bib = read_bib_file(path, cache=FieldCache(blocker / "cache"))
    assert bib.entry("k1").fields["title"] == "Title 1"


def test_broken_entries_are_cached_with_their_error(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("@misc{bad, title={A} author={B}}\n")
    read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    again = read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    assert again.from_cache == 1
    assert "entry 'bad'" in str(again.errors[0])


def test_read_without_waiting_has_cached_fields_at_once(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(library(30))
    read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    later = read_bib_file(path, wait=False, cache=FieldCache(tmp_path / "cache"))
    assert later.fields_ready.is_set()
    assert later.from_cache == 30
    assert later.entry("k29").fields["title"] == "Title 29"


def test_a_large_file_read_without_waiting_has_keys_at_once_and_cached_fields_later(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(library(6000))
    assert path.stat().st_size > CACHED_FIELDS_AT_ONCE_CHARS
    read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    later: list = []
    bib = parse_bib_text(path.read_text(), str(path), wait=False, cache=FieldCache(tmp_path / "cache"),
                         run_later=later.append)
    assert len(bib.entries) == 6000 and bib.entry("k5999") is not None
    assert not bib.fields_ready.is_set() and len(later) == 1
    later[0]()
    assert bib.fields_ready.is_set() and bib.from_cache == 6000
    assert bib.entry("k5999").fields["title"] == "Title 5999"


def test_an_oversized_cache_file_is_started_afresh(tmp_path, monkeypatch):
    from citewise.bib.bibtex import cache as cache_module

    monkeypatch.setattr(cache_module, "_DISK_LIMIT", 1)
    path = tmp_path / "refs.bib"
    path.write_text(library(3))
    read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    path.write_text(library(3, changed=1))
    bib = read_bib_file(path, cache=FieldCache(tmp_path / "cache"))
    assert bib.entry("k1").fields["title"] == "Title 1 changed"
    assert read_bib_file(path, cache=FieldCache(tmp_path / "cache")).from_cache == 1
