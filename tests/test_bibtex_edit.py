"""Minimal edits: insert in sorted position or append, replace exactly a span, rename a key, atomic writes."""

from __future__ import annotations

import os

import pytest

from citewise.bib.bibtex.edit import apply_edit, insert_entry_edit, rename_key_edit, replace_entry_edit
from citewise.bib.errors import SourceError
from citewise.bib.files import write_atomically

NEW = "@misc{b,\n  title = {B}\n}\n"


def insert(text: str, key: str = "b", entry: str = NEW) -> str:
    return apply_edit(text, insert_entry_edit(text, key, entry))


def test_sorted_file_gets_the_entry_in_key_order_with_its_blank_line():
    text = "@misc{a,\n  title = {A}\n}\n\n@misc{c,\n  title = {C}\n}\n"
    edit = insert_entry_edit(text, "b", NEW)
    assert (edit.start_offset, edit.end_offset, edit.start_line, edit.start_col) == (text.index("@misc{c"), text.index("@misc{c"), 4, 0)
    assert apply_edit(text, edit) == "@misc{a,\n  title = {A}\n}\n\n@misc{b,\n  title = {B}\n}\n\n@misc{c,\n  title = {C}\n}\n"


def test_sorted_file_with_a_key_after_all_others_appends_after_the_last_entry():
    text = "@misc{a, title={A}}\n@misc{a2, title={A2}}\n% trailing comment without entries\n"
    assert insert(text, "zz", "@misc{zz}\n") == "@misc{a, title={A}}\n@misc{a2, title={A2}}\n% trailing comment without entries\n@misc{zz}\n"


def test_unsorted_file_appends_keeping_its_separator():
    text = "@misc{z, title={Z}}\n\n\n@misc{c, title={C}}\n"
    assert insert(text) == "@misc{z, title={Z}}\n\n\n@misc{c, title={C}}\n\n\n@misc{b,\n  title = {B}\n}\n"


def test_file_without_final_newline_and_empty_file():
    assert insert("@misc{z, title={Z}}") == "@misc{z, title={Z}}\n\n@misc{b,\n  title = {B}\n}"
    assert insert("") == NEW
    assert insert("% only a comment\n") == "% only a comment\n\n@misc{b,\n  title = {B}\n}\n"


def test_crlf_file_gets_crlf_entry():
    text = "@misc{z, title={Z}}\r\n\r\n@misc{c, title={C}}\r\n"
    assert insert(text) == text + "\r\n@misc{b,\r\n  title = {B}\r\n}\r\n"


def test_insert_is_idempotent_and_updates_an_existing_key():
    text = "@misc{a, title={A}}\n\n@misc{c, title={C}}\n"
    once = insert(text)
    assert insert(once) == once
    changed = insert(once, "b", "@misc{b,\n  title = {B2}\n}\n")
    assert changed == once.replace("{B}", "{B2}")


def test_replace_touches_exactly_the_span_and_is_idempotent():
    text = "% head\n@misc{a, title={A}}  % same line comment\n@misc{b, title={Old}}\n% tail\n"
    edit = replace_entry_edit(text, "b", "@misc{b, title={New}}\n")
    assert text[edit.start_offset : edit.end_offset] == "@misc{b, title={Old}}"
    assert (edit.start_line, edit.start_col, edit.end_line, edit.end_col) == (2, 0, 2, 21)
    edited = apply_edit(text, edit)
    assert edited == text.replace("{Old}", "{New}")
    assert apply_edit(edited, replace_entry_edit(edited, "b", "@misc{b, title={New}}\n")) == edited


def test_replace_and_rename_of_a_missing_key_give_none():
    assert replace_entry_edit("@misc{a}", "zz", NEW) is None
    assert rename_key_edit("@misc{a}", "zz", "y") is None


def test_rename_replaces_only_the_key():
    text = "@misc{a, title={a}}\n@misc{old, note={old}}\n"
    edit = rename_key_edit(text, "old", "new")
    assert (edit.start_line, edit.start_col, edit.end_col) == (1, 6, 9)
    assert apply_edit(text, edit) == "@misc{a, title={a}}\n@misc{new, note={old}}\n"


def test_write_atomically_keeps_encoding_and_mode(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_bytes("@misc{k, title={Ü}}".encode("latin-1"))
    os.chmod(path, 0o640)
    write_atomically(path, "@misc{k, title={Ü}}\n@misc{l}")
    assert path.read_bytes() == "@misc{k, title={Ü}}\n@misc{l}".encode("latin-1")
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["refs.bib"]


def test_write_atomically_keeps_a_bom_and_writes_new_files_as_utf8(tmp_path):
    path = tmp_path / "bom.bib"
    path.write_bytes(b"\xef\xbb\xbf@misc{k}")
    write_atomically(path, "@misc{k, title={é}}")
    assert path.read_bytes() == b"\xef\xbb\xbf" + "@misc{k, title={é}}".encode()
    fresh = tmp_path / "new.bib"
    write_atomically(fresh, "é")
    assert fresh.read_bytes() == "é".encode()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("@misc{old}")
    with pytest.raises(SourceError, match="cannot write"):
        write_atomically(path, "\udcff broken surrogate")
    assert path.read_text() == "@misc{old}"
    assert [p.name for p in tmp_path.iterdir()] == ["refs.bib"]
