"""The one decoding policy (citewise.bib.files.decode), step by step, and the readers that share it."""

from __future__ import annotations

import codecs

import pytest

from citewise.bib.bibtex.reader import read_bib_file
from citewise.bib.errors import SourceError
from citewise.bib.files import decode
from citewise.server.drafts.project import read_source
from citewise.server.features.open_documents import read_text

NAMES = "Müller — Ødegård"


@pytest.mark.parametrize("bom, codec", [
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
])
def test_a_byte_order_mark_decides_first_and_is_kept(bom, codec):
    decoded = decode(bom + NAMES.encode(codec))
    assert (decoded.text, decoded.encoding, decoded.bom, decoded.fallback) == (NAMES, codec, bom, False)


def test_utf8_comes_before_any_declaration():
    decoded = decode(f"% !TeX encoding = latin1\n{NAMES}".encode())
    assert decoded.encoding == "utf-8" and decoded.text.endswith(NAMES)


@pytest.mark.parametrize("declaration, codec", [
    ("% !TeX encoding = ISO-8859-15\n", "iso8859-15"),
    ("% Encoding: windows-1252\n", "cp1252"),
    ("\\usepackage[latin9]{inputenc}\n", "iso8859-15"),
    ("\\usepackage[T1]{fontenc}\\usepackage[ansinew]{inputenc}\n", "cp1252"),
])
def test_text_that_is_not_utf8_is_read_in_the_encoding_it_declares(declaration, codec):
    text = declaration + "Ødegård €"
    decoded = decode(text.encode(codec))
    assert (decoded.text, decoded.encoding, decoded.fallback) == (text, codec, False)


def test_undeclared_text_falls_back_to_windows_1252_and_says_so():
    decoded = decode("Müller — Ødegård".encode("cp1252") + b"\x81")
    assert decoded.text == "Müller — Ødegård\x81"  # 0x81 is undefined in cp1252: read as Latin-1
    assert (decoded.encoding, decoded.fallback) == ("cp1252", True)


def test_binary_data_is_refused_naming_the_file():
    with pytest.raises(SourceError, match=r"^refs\.bib: binary data, not a BibTeX file$"):
        decode(bytes(range(32)) * 100, "refs.bib", "a BibTeX file")


def test_drafts_bib_files_and_the_language_server_read_the_same_bytes_alike(tmp_path):
    """One policy: a Latin-1 file without a declaration reads the same as a draft, a .bib and an open-able file."""
    data = "@article{m, author = {Müller, Jörg}, title = {Ødegård}}\n".encode("latin-1")
    for name in ("draft.tex", "refs.bib", "notes.md"):
        (tmp_path / name).write_bytes(data)
    expected = data.decode("cp1252")
    assert read_source(tmp_path / "draft.tex") == expected
    assert read_bib_file(tmp_path / "refs.bib").text == expected
    assert read_text(str(tmp_path / "notes.md")) == expected
