"""Only regular files are read, within a size cap, by one decoding policy: FIFOs, devices, loops, binaries, encodings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile_support import assert_no_traceback, assert_one_line_error, citewise

REFS = "@misc{known, title = {Known}}\n"


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "paper"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "refs.bib").write_text(REFS, encoding="utf-8")
    os.mkfifo(root / "pipe.bib")
    (root / "zero.bib").symlink_to("/dev/zero")
    (root / "loop.bib").symlink_to(root / "loop.bib")
    (root / "paper.tex").write_text("Text \\cite{known}.\n\\bibliography{pipe,zero,loop,refs}\n", encoding="utf-8")
    return root


def test_special_files_declared_as_bibliographies_never_hang_bib(project):
    result = citewise("bib", project / "paper.tex", timeout=60)
    assert_no_traceback(result)
    assert result.returncode == 0 and result.stdout == REFS
    problems = sorted(line for line in result.stderr.splitlines())
    assert problems == [
        "citewise: /dev/zero: not a regular file (a character device)",
        f"citewise: {project / 'loop.bib'}: symlink loop",
        f"citewise: {project / 'pipe.bib'}: not a regular file (a FIFO)",
    ]


@pytest.mark.parametrize("name, message, included", [
    ("pipe.tex", "not a regular file (a FIFO)", "not a regular file (a FIFO)"),
    ("zero.tex", "zero.tex: not a LaTeX (.tex, .ltx, .latex) or Markdown", "outside the project directory"),
    ("loop.tex", "symlink loop", "symlink loop"),
    ("folder.tex", "not a regular file (a directory)", "not a regular file (a directory)"),
])
def test_special_drafts_and_includes_get_one_line(project, name, message, included):
    os.mkfifo(project / "pipe.tex")
    (project / "zero.tex").symlink_to("/dev/zero")
    (project / "loop.tex").symlink_to(project / "loop.tex")
    (project / "folder.tex").mkdir()
    assert_one_line_error(citewise("cites", project / name, timeout=60), message)

    (project / "main.tex").write_text(f"\\input{{{name}}}\\cite{{known}}\n", encoding="utf-8")
    result = citewise("cites", project / "main.tex", timeout=60)
    assert_no_traceback(result)
    assert result.returncode == 0 and "\\cite\tknown" in result.stdout
    assert included in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["pipe.bib", "zero.bib", "loop.bib"])
def test_index_add_refuses_special_files_without_reading(project, tmp_path, name):
    result = citewise("index", "add", project / name, "--index", tmp_path / "index.sqlite", "--no-embed", timeout=60)
    assert_one_line_error(result, name)


def test_a_folder_with_special_files_adds_the_rest(project, tmp_path):
    (project / "paper.tex").unlink()
    result = citewise("index", "add", project, "--index", tmp_path / "index.sqlite", "--no-embed", timeout=60)
    assert_no_traceback(result)
    assert "added 1," in result.stdout
    assert "pipe.bib: not a regular file (a FIFO)" in result.stderr and "zero.bib: not a regular file" in result.stderr


def test_files_over_the_size_cap_are_refused(project, tmp_path):
    huge = project / "huge.bib"
    with huge.open("wb") as handle:
        handle.write(b"@misc{filler, note = {%s}}\n" % (b"x" * 400_000))  # BibTeX past the format check's head
        handle.truncate(300 * 1024 * 1024)  # the rest sparse: no disk used
    (project / "paper.tex").write_text("\\cite{known}\\bibliography{huge,refs}\n", encoding="utf-8")
    result = citewise("bib", project / "paper.tex", timeout=60)
    assert result.returncode == 0 and result.stdout == REFS
    assert "huge.bib: 300 MB is more than the 256 MB citewise reads" in result.stderr
    added = citewise("index", "add", huge, "--index", tmp_path / "i.sqlite", "--no-embed")
    assert_no_traceback(added)  # a source too large to read is a problem of that file (exit 1), named on one line
    assert added.returncode == 1 and added.stderr.strip().splitlines() == [f"{huge}: 300 MB is more than the 256 MB citewise reads"]


def test_binary_files_get_one_line(project, tmp_path):
    (project / "photo.tex").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    assert_one_line_error(citewise("cites", project / "photo.tex"), "photo.tex", "binary data")
    (project / "photo.bib").write_bytes((project / "photo.tex").read_bytes())
    assert_one_line_error(citewise("index", "add", project / "photo.bib", "--index", tmp_path / "i.sqlite"), "photo.bib", "binary data")


def test_latin1_and_declared_encodings(project):
    (project / "latin.tex").write_bytes("Caf\xe9 \\cite{known}\n\\bibliography{latin}\n".encode("latin-1"))
    (project / "latin.bib").write_bytes("@misc{known, title = {Caf\xe9 \u00fcber}}\n".encode("latin-1"))
    result = citewise("bib", project / "latin.tex")
    assert result.returncode == 0 and "Caf\xe9 \u00fcber" in result.stdout

    # 0xA4 is the euro sign in ISO-8859-15 but a currency sign in the Windows-1252 fallback.
    (project / "euro.tex").write_bytes(b"% !TeX encoding = ISO-8859-15\n\\cite{price\xa4}\n")
    records = json.loads(citewise("cites", project / "euro.tex", "--json").stdout)
    assert records[0]["keys"] == ["price\u20ac"]
    (project / "euro.bib").write_bytes(b"% Encoding: ISO-8859-15\n@misc{k, title = {5 \xa4}}\n")
    (project / "uses.tex").write_text("\\cite{k}\\bibliography{euro}", encoding="utf-8")
    assert "5 \u20ac" in citewise("bib", project / "uses.tex").stdout
    (project / "inputenc.tex").write_bytes(b"\\usepackage[latin9]{inputenc}\n\\cite{p\xa4}\n")
    assert json.loads(citewise("cites", project / "inputenc.tex", "--json").stdout)[0]["keys"] == ["p\u20ac"]


def test_an_include_outside_the_project_is_not_read(project):
    (project / "main.tex").write_text("\\input{/etc/passwd}\\include{../../../../../../etc/shadow}\\cite{known}\n", encoding="utf-8")
    result = citewise("cites", project / "main.tex")
    assert_no_traceback(result)
    assert result.returncode == 0 and "root:" not in result.stdout + result.stderr
    assert "outside the project directory" in result.stderr


def test_suggest_reads_a_latin1_draft(project, tmp_path):
    from citewise.bib.index.store import Index

    with Index.open(tmp_path / "index.sqlite"):
        pass
    (project / "latin.tex").write_bytes("\\begin{document}\nCaf\xe9 au lait is a drink enjoyed by many people in the morning.\n".encode("latin-1"))
    result = citewise("suggest", project / "latin.tex", "--index", tmp_path / "index.sqlite", "--json")
    assert_no_traceback(result)
    assert result.returncode == 0 and "Caf\xe9" in json.loads(result.stdout)[0]["text"]
    os.mkfifo(project / "pipe.md")
    assert_one_line_error(citewise("suggest", project / "pipe.md", "--index", tmp_path / "index.sqlite", timeout=60), "not a regular file")
