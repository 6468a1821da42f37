"""After a sync, .bib entries of changed Zotero items follow; nothing else in the file moves."""

from __future__ import annotations

import os
import subprocess
import sys

from zotero_support import API_KEY, index, index_view, server, settings_for  # noqa: F401

from citewise.bib.bibtex.reader import read_bib_file
from citewise.bib.bibtex.writer import format_entry
from citewise.bib.zotero.bibsync import sync_bib_files
from citewise.bib.zotero.sync import sync_library

HAND_WRITTEN = """% My references, kept by hand.
@string{ims = "Israel J. Math."}

@misc{mine2020,
  title  = {Not from   Zotero},
  note   = {odd    spacing kept},
}
"""


def write_bib(tmp_path, index, zotero_keys):
    entries = [format_entry(index.get(key)) for key in zotero_keys]
    path = tmp_path / "refs.bib"
    path.write_text(HAND_WRITTEN + "\n" + "\n".join(entries), encoding="utf-8")
    return path


def test_changed_items_rewrite_only_their_entries(server, index, tmp_path):
    sync_library(index, settings_for(server))
    keys = {ref.zotero_key: ref.key for ref in index.iter_references()}
    bib = write_bib(tmp_path, index, [keys["PQKBRC33"], keys["GIFZST3I"], keys["NM66T6EF"]])
    before = bib.read_text(encoding="utf-8")
    server.library.update_item("PQKBRC33", title="Sherlock Holmes in Nineveh")
    server.library.update_item("ICK5M93W", title="Not in this file")
    server.library.delete_item("NM66T6EF")

    summary = sync_library(index, settings_for(server))
    result = sync_bib_files([str(bib)], summary.changed, summary.removed_keys)

    assert result.updated == {str(bib): [keys["PQKBRC33"]]}
    assert result.deleted_in_zotero == [(str(bib), keys["NM66T6EF"])]
    after = bib.read_text(encoding="utf-8")
    assert after.startswith(HAND_WRITTEN)
    parsed = read_bib_file(bib)
    assert parsed.entry(keys["PQKBRC33"]).fields["title"] == "Sherlock Holmes in Nineveh"
    assert parsed.entry(keys["NM66T6EF"]) is not None
    assert parsed.entry(keys["GIFZST3I"]).raw in before


def test_an_entry_keeps_its_style_and_the_authors_own_fields(server, index, tmp_path):
    sync_library(index, settings_for(server))
    key = index_view(index)["PQKBRC33"][0]
    biblatex = format_entry(index.get(key), "biblatex").replace("\n}", ",\n  note = {Read twice}\n}")
    bib = tmp_path / "thesis.bib"
    bib.write_text(biblatex, encoding="utf-8")
    server.library.update_item("PQKBRC33", title="Sherlock Holmes in Nineveh")
    summary = sync_library(index, settings_for(server))
    assert sync_bib_files([str(bib)], summary.changed).updated == {str(bib): [key]}
    entry = read_bib_file(bib).entry(key)
    assert entry.fields["title"] == "Sherlock Holmes in Nineveh"
    assert entry.fields["note"] == "Read twice"
    assert "journaltitle" in entry.fields and "journal" not in entry.fields


def test_an_unchanged_file_is_not_rewritten(server, index, tmp_path):
    sync_library(index, settings_for(server))
    keys = {ref.zotero_key: ref.key for ref in index.iter_references()}
    bib = write_bib(tmp_path, index, [keys["GIFZST3I"]])
    stamp = bib.stat().st_mtime_ns
    everything = list(index.iter_references())
    assert sync_bib_files([str(bib)], everything).updated == {}
    assert bib.stat().st_mtime_ns == stamp


def test_the_cli_updates_bib_files_it_is_given(server, index, tmp_path):
    sync_library(index, settings_for(server))
    keys = {ref.zotero_key: ref.key for ref in index.iter_references()}
    bib = write_bib(tmp_path, index, [keys["PQKBRC33"]])
    index.close()
    server.library.update_item("PQKBRC33", title="Sherlock Holmes in Ur")
    done = subprocess.run(
        [sys.executable, "-m", "citewise", "zotero", "sync", "--library", "users/1", "--endpoint", server.url,
         "--index", str(tmp_path / "index.sqlite"), "--bib", str(bib)],
        capture_output=True, text=True, env={**os.environ, "ZOTERO_API_KEY": API_KEY},
    )
    assert done.returncode == 0, done.stderr
    assert f"{bib}: updated {keys['PQKBRC33']}" in done.stdout
    assert read_bib_file(bib).entry(keys["PQKBRC33"]).fields["title"] == "Sherlock Holmes in Ur"

