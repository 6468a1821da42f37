"""Whole drafts on disk: includes, cycles, files outside the project, encodings, bad files, declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

from citewise.bib.errors import CitewiseError
from citewise.server.drafts.project import find_project_root, find_root_document, language_of, load_draft
from citewise.server.drafts.suffixes import DRAFT_FORMATS

FIXTURES = Path(__file__).parent / "fixtures" / "drafts"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder marked as a project root (so the walk up stops here)."""
    root = tmp_path / "paper"
    (root / ".git").mkdir(parents=True)
    return root


def test_language_of_paths_and_uris():
    assert language_of("a/paper.tex") == "latex"
    assert language_of("file:///home/me/My%20Paper/ch1.QMD") == "markdown"
    assert [language_of(name) for name in ("x.md", "x.Rmd", "x.markdown", "x.ltx")] == ["markdown", "markdown", "markdown", "latex"]
    assert language_of("refs.bib") is None and language_of("README") is None


def test_nested_include_and_input_follow_jabref_fixture():
    draft = load_draft(FIXTURES / "jabref" / "nested.tex")
    assert [Path(path).name for path in draft.files] == ["nested.tex", "nested2.tex", "paper.tex"]
    assert [citation.key_names[0] for citation in draft.citations] == ["Einstein1920", "Darwin1888", "Einstein1920", "Darwin1888"]
    assert draft.cited_keys() == ["Einstein1920", "Darwin1888"]
    assert draft.bib_files == [str((FIXTURES / "jabref" / "origin.bib").resolve())]
    assert draft.errors == []


@pytest.mark.parametrize("name", ["iso-8859-1.tex", "iso-8859-15.tex", "utf-8.tex"])
def test_encodings(name):
    draft = load_draft(FIXTURES / "jabref" / name)
    assert [citation.key_names for citation in draft.citations] == [["anykey"]]
    assert draft.citations[0].col == len("Danach wir anschließend mittels ")


def test_user_macro_defined_in_root_counts_in_input_files():
    draft = load_draft(FIXTURES / "scipy" / "main.tex")
    commands = [citation.command for citation in draft.citations]
    assert commands.count("\\inlinecite") == 13
    assert len(draft.citations) == 31
    assert all(Path(citation.file).name != "main.tex" for citation in draft.citations)


def test_every_include_command_resolves(project):
    write(project / "main.tex", "\\input{a}\\include{chapters/b}\\import{parts/}{c}\\subfile{d.tex}\\input e\n\\cite{root}")
    write(project / "a.tex", "\\cite{a}")
    write(project / "chapters" / "b.tex", "\\cite{b}\\subimport{deeper/}{f}")
    write(project / "chapters" / "deeper" / "f.tex", "\\cite{f}\\input{g}")
    write(project / "chapters" / "deeper" / "g.tex", "\\cite{g}")
    write(project / "parts" / "c.tex", "\\cite{c}")
    write(project / "d.tex", "\\cite{d}")
    write(project / "e", "\\cite{e}")
    draft = load_draft(project / "main.tex")
    assert draft.cited_keys() == ["root", "a", "b", "f", "g", "c", "d", "e"]
    assert draft.errors == []


def test_input_cycle_is_reported_and_not_followed(project):
    write(project / "main.tex", "\\input{a}\n\\cite{m}")
    write(project / "a.tex", "\\cite{a}\n\\input{b}")
    write(project / "b.tex", "\\cite{b}\n\n\\input{a}\\input{main}\\input{b}")
    draft = load_draft(project / "main.tex")
    assert draft.cited_keys() == ["m", "a", "b"]
    b = project / "b.tex"
    assert draft.errors == [
        f"{b}:3: \\input{{a}} makes an include cycle; not followed",
        f"{b}:3: \\input{{main}} makes an include cycle; not followed",
        f"{b}:3: \\input{{b}} makes an include cycle; not followed",
    ]


def test_file_included_twice_is_read_once(project):
    write(project / "main.tex", "\\input{a}\\input{a}")
    write(project / "a.tex", "\\cite{a}")
    draft = load_draft(project / "main.tex")
    assert len(draft.citations) == 1 and draft.errors == []


def test_include_outside_the_project_is_reported_and_not_followed(project):
    write(project.parent / "secret.tex", "\\cite{outside}")
    write(project / "main.tex", "\\cite{in}\n\\input{../secret}\n\\input{/etc/hostname}")
    draft = load_draft(project / "main.tex")
    assert draft.cited_keys() == ["in"]
    assert draft.errors[0] == f"{project / 'main.tex'}:2: \\input{{../secret}} is outside the project directory {project}; not followed"
    assert "outside the project directory" in draft.errors[1]


def test_missing_binary_and_unreadable_includes_are_reported(project):
    write(project / "main.tex", "\\input{missing}\n\\input{junk}\n\\cite{ok}")
    write(project / "junk.tex", bytes(range(256)) * 10)
    draft = load_draft(project / "main.tex")
    assert draft.cited_keys() == ["ok"]
    assert draft.errors == [
        f"{project / 'main.tex'}:1: \\input{{missing}}: file not found",
        f"{project / 'main.tex'}:2: \\input{{junk}}: {project / 'junk.tex'}: binary data, not a LaTeX or Markdown draft",
    ]


def test_include_and_bibliography_names_no_file_system_accepts(project):
    long_name = "x" * 5000
    main = write(project / "main.tex", "")
    editor_text = f"\\input{{a\x00b}}\\input{{{long_name}}}\\bibliography{{{long_name}}}\\cite{{k}}"
    draft = load_draft(main, open_texts={str(main.resolve()): editor_text})
    assert draft.cited_keys() == ["k"]
    assert len(draft.errors) == 3 and all(len(error) < 400 for error in draft.errors)
    assert draft.errors[0].endswith(".bib not found")
    assert draft.errors[1].endswith("\\input{...}: not a usable file name")
    assert draft.errors[2].endswith("x}: file not found")
    write(project / "doc.md", f"{{{{< include {long_name}.qmd >}}}}\n@k\n")
    assert load_draft(project / "doc.md").cited_keys() == ["k"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("junk.tex", b"\x00\x01\x02binary\xff" * 100, "binary data, not a LaTeX or Markdown draft"),
        ("missing.tex", None, "no such file"),
        ("notes.txt", b"plain", f"not a {DRAFT_FORMATS} draft"),
    ],
)
def test_bad_root_files_raise_one_clear_error(project, name, content, message):
    if content is not None:
        write(project / name, content)
    with pytest.raises(CitewiseError) as raised:
        load_draft(project / name)
    assert str(raised.value).endswith(message)
    assert name in str(raised.value)


def test_unbalanced_braces_and_never_closing_cite_give_messages_not_failures(project):
    write(project / "main.tex", "\\section{Intro\n\\cite{a}}}} {{\n\\citep[p.~3]{b, c\n\\end{document}\n")
    draft = load_draft(project / "main.tex")
    assert draft.cited_keys() == ["a"]
    assert draft.errors == [f"{project / 'main.tex'}:3: \\citep{{ is never closed (or holds a command instead of keys)"]


def test_ten_megabyte_draft(project):
    paragraph = "".join(f"Claim {i} holds \\citep[p.~{i}]{{key{i}, shared}} as shown. % note\n" for i in range(1000))
    text = paragraph * (10 * 1024 * 1024 // len(paragraph) + 1)
    write(project / "big.tex", text)
    draft = load_draft(project / "big.tex")
    assert len(draft.citations) == text.count("\\citep")
    assert len(draft.cited_keys()) == 1001


@pytest.mark.parametrize("unit", ["\\cite{", "\\cite[", "{", "\\verb", "\\begin{verbatim}", "%", "\\input{"])
def test_pathological_repetition_terminates_with_capped_messages(project, unit):
    write(project / "bad.tex", unit * (200_000 // len(unit)))
    draft = load_draft(project / "bad.tex")
    assert draft.citations == []
    assert len(draft.errors) <= 21


@pytest.mark.parametrize("unit", ["<!--", "`", "[@a ", "{cite}`", "http://", "@", "```\n", "[", "aaaa"])
def test_pathological_markdown_repetition_terminates(project, unit):
    write(project / "bad.md", unit * (200_000 // len(unit)))
    draft = load_draft(project / "bad.md")
    assert isinstance(draft.citations, list)


def test_latex_bibliographies_resolve_against_the_root_then_the_declaring_file(project):
    write(project / "main.tex", "\\input{sub/part}\n\\bibliography{refs,missing}")
    write(project / "sub" / "part.tex", "\\addbibresource{local.bib}")
    write(project / "refs.bib", "")
    write(project / "sub" / "local.bib", "")
    draft = load_draft(project / "main.tex")
    assert draft.bib_files == [str(project / "refs.bib"), str(project / "missing.bib"), str(project / "sub" / "local.bib")]
    assert draft.errors == [f"{project / 'main.tex'}: declared bibliography missing.bib not found"]


def test_markdown_bibliographies_from_front_matter_and_project_files(project):
    write(project / "_quarto.yml", "project:\n  type: book\nbibliography: [book.bib]\n")
    write(project / "chapters" / "_metadata.yml", "bibliography: chapter.bib\n")
    write(project / "chapters" / "one.qmd", "---\ntitle: One\nbibliography:\n  - own.bib\n---\nAs @a shows.\n")
    for name in ("book.bib", "chapters/chapter.bib", "chapters/own.bib"):
        write(project / name, "")
    draft = load_draft(project / "chapters" / "one.qmd")
    assert draft.bib_files == [str(project / "chapters" / name) for name in ("own.bib", "chapter.bib")] + [str(project / "book.bib")]
    assert draft.cited_keys() == ["a"] and draft.errors == []


@pytest.mark.parametrize(
    "config, text",
    [
        ("_bookdown.yml", "bibliography: [refs.bib]\n"),
        ("myst.yml", "version: 1\nproject:\n  title: X\n  bibliography:\n    - refs.bib\n"),
        ("_config.yml", "title: Book\nbibtex_bibfiles:\n  - refs.bib\nsphinx:\n  config: {}\n"),
    ],
)
def test_other_project_files_declare_bibliographies(project, config, text):
    write(project / config, text)
    write(project / "refs.bib", "")
    write(project / "docs" / "page.md", "{cite:p}`k`\n")
    draft = load_draft(project / "docs" / "page.md")
    assert draft.bib_files == [str(project / "refs.bib")]
    assert draft.cited_keys() == ["k"]


def test_bookdown_chapters_take_the_bibliography_of_index_rmd(project):
    write(project / "_bookdown.yml", 'book_filename: "book"\nrmd_files: ["index.Rmd", "01-intro.Rmd"]\n')
    write(project / "index.Rmd", '---\ntitle: "Book"\nbibliography: [book.bib, packages.bib]\n---\n# Preface\n')
    write(project / "01-intro.Rmd", "# Intro\nAs @xie2015 shows, see Figure \\@ref(fig:plot).\n")
    write(project / "book.bib", "")
    draft = load_draft(project / "01-intro.Rmd")
    assert draft.cited_keys() == ["xie2015"]
    assert draft.bib_files == [str(project / "book.bib"), str(project / "packages.bib")]
    assert draft.errors == [f"{project / 'index.Rmd'}: declared bibliography packages.bib not found"]


def test_quarto_project_fixture():
    draft = load_draft(FIXTURES / "quarto" / "craft-technical-reports.qmd")
    assert draft.cited_keys() == ["zinsser2006writing", "white1972elements"]
    assert draft.bib_files == [str((FIXTURES / "quarto" / "references.bib").resolve())]


def test_social_handles_written_escaped_are_not_citations_in_fixture():
    draft = load_draft(FIXTURES / "quarto" / "code-best-practice.qmd")
    assert "allison_horst" not in draft.cited_keys()


def test_quarto_include_shortcode_and_its_cycle(project):
    write(project / "_quarto.yml", "project:\n  type: default\n")
    write(project / "main.qmd", "@m\n{{< include _part.qmd >}}\n{{< include ../../outside.qmd >}}\n")
    write(project / "_part.qmd", "@p\n{{< include main.qmd >}}\n")
    draft = load_draft(project / "main.qmd")
    assert draft.cited_keys() == ["m", "p"]
    assert any("makes an include cycle" in error for error in draft.errors)
    assert any("outside the project directory" in error for error in draft.errors)


def test_open_editor_text_replaces_the_file_on_disk(project):
    write(project / "main.tex", "\\input{a}")
    write(project / "a.tex", "\\cite{saved}")
    draft = load_draft(project / "main.tex", open_texts={str((project / "a.tex").resolve()): "\\cite{unsaved}"})
    assert draft.cited_keys() == ["unsaved"]


def test_project_root_and_root_document(project):
    write(project / "main.tex", "\\input{sections/intro}")
    intro = write(project / "sections" / "intro.tex", "% !TEX root = ../main.tex\n\\cite{a}")
    other = write(project / "sections" / "other.tex", "\\documentclass[../main]{subfiles}\n")
    lone = write(project / "sections" / "lone.tex", "\\cite{b}")
    assert find_project_root(intro) == project.resolve()
    assert find_root_document(intro) == (project / "main.tex").resolve()
    assert find_root_document(other) == (project / "main.tex").resolve()
    assert find_root_document(lone) == lone.resolve()
