"""LaTeX citation syntax: every cite command form, positions, macros, comments, verbatim, includes."""

from __future__ import annotations

import pytest

from citewise.server.drafts.latex import find_latex_citations, latex_bibliographies, latex_includes, scan_latex
from citewise.server.drafts.latex_macros import CITE_COMMANDS, CiteMacro, find_cite_macros
from citewise.server.drafts.latex_mask import mask_comments_and_verbatim


def keys(text: str, **options) -> list[list[str]]:
    return [citation.key_names for citation in find_latex_citations(text, "t.tex", **options)]


def commands(text: str) -> list[str]:
    return [citation.command for citation in find_latex_citations(text, "t.tex")]


@pytest.mark.parametrize(
    "name",
    ["cite", "citep", "citet", "citealp", "citeauthor", "citeyear", "parencite", "textcite", "autocite",
     "footcite", "fullcite", "smartcite", "supercite", "nocite", "Citet", "Textcite", "Parencite", "Autocite",
     "Citeauthor", "citen", "citealt", "citetitle"],
)
def test_every_cite_command_and_its_starred_form(name):
    assert keys(f"See \\{name}{{a}} and \\{name}*{{b}}.") == [["a"], ["b"]]
    assert commands(f"\\{name}*{{b}}") == [f"\\{name}*"]


def test_commands_that_merely_start_like_cite_are_not_citations():
    assert keys(r"\citestyle{plain} \citeindexfalse \citationneeded{a} \recite{b}") == []


def test_optional_arguments_and_spaces_between_arguments():
    assert keys(r"\citep[see][p.~3]{a} \citep[p.~4]{b} \parencite [pre] [post] {c} \cite[{a]b}]{d}") == [["a"], ["b"], ["c"], ["d"]]


def test_keys_separated_by_commas_spaces_and_line_breaks():
    assert keys("\\cite{a,b, c ,\n   d}") == [["a", "b", "c", "d"]]
    assert keys(r"\cite{a,,b,}") == [["a", "b"]]


def test_key_with_leading_space_keeps_its_true_position():
    (citation,) = find_latex_citations(r"x\cite{ blas-2015}", "t.tex")
    assert (citation.keys[0].key, citation.keys[0].col, citation.keys[0].end_col) == ("blas-2015", 8, 17)


def test_positions_of_command_and_keys_are_zero_based():
    text = "first line\n  \\citet[p.~2]{alpha, beta}\n"
    (citation,) = find_latex_citations(text, "t.tex")
    assert (citation.line, citation.col, citation.end_line, citation.end_col) == (1, 2, 1, 27)
    assert [(use.key, use.line, use.col, use.end_col) for use in citation.keys] == [("alpha", 1, 15, 20), ("beta", 1, 22, 26)]
    assert text.splitlines()[1][15:20] == "alpha"


def test_citation_spanning_lines_gives_each_key_its_own_line():
    (citation,) = find_latex_citations("\\cite{a,\n  b}", "t.tex")
    assert [(use.key, use.line, use.col) for use in citation.keys] == [("a", 0, 6), ("b", 1, 2)]
    assert (citation.end_line, citation.end_col) == (1, 4)


def test_multicite_commands_with_global_and_per_key_arguments():
    text = r"\cites(See)(and more)[p.~1]{a}[chap.~2]{b, c}{d} then \parencites[x]{e}[y][z]{f} \Textcites{g}{h}"
    assert keys(text) == [["a", "b", "c", "d"], ["e", "f"], ["g", "h"]]
    assert commands(text) == ["\\cites", "\\parencites", "\\Textcites"]


def test_comments_are_skipped_but_escaped_percent_is_not_a_comment():
    text = "\\cite{a} % \\cite{hidden}\n50\\% sure \\cite{b}\n%\\cite{c}\n\\\\% \\cite{after-linebreak}\n"
    assert keys(text) == [["a"], ["b"]]


@pytest.mark.parametrize(
    "text",
    [
        "\\begin{verbatim}\n\\cite{v}\n\\end{verbatim}",
        "\\begin{verbatim*}\n\\cite{v}\n\\end{verbatim*}",
        "\\begin{lstlisting}[language=TeX]\n\\cite{v}\n\\end{lstlisting}",
        "\\begin{minted}{latex}\n\\cite{v}\n\\end{minted}",
        "\\begin{Verbatim}\n\\cite{v}\n\\end{Verbatim}",
        "\\begin{comment}\n\\cite{v}\n\\end{comment}",
        "\\verb|\\cite{v}|",
        "\\verb*+\\cite{v}+",
        "\\lstinline|\\cite{v}|",
        "\\mintinline{latex}{\\cite{v}}",
    ],
)
def test_verbatim_material_is_skipped(text):
    assert keys(text + " \\cite{real}") == [["real"]]


def test_verbatim_environment_that_never_ends_hides_the_rest():
    assert keys("\\cite{a}\n\\begin{verbatim}\n\\cite{b}") == [["a"]]


def test_masking_keeps_length_and_line_breaks():
    text = "a % comment\n\\verb|x|\n\\begin{verbatim}\nq\n\\end{verbatim}\n"
    masked = mask_comments_and_verbatim(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [i for i, c in enumerate(text) if c == "\n"]
    assert "comment" not in masked and "q" not in masked


def test_user_macro_wrapping_a_cite_command_like_scipy_inlinecite():
    text = "\\newcommand{\\inlinecite}[1]{\\footnotesize\\citen{#1}}\nText \\inlinecite{virtanen2020}."
    (citation,) = find_latex_citations(text, "t.tex")
    assert citation.command == "\\inlinecite"
    assert [(use.key, use.line, use.col) for use in citation.keys] == [("virtanen2020", 1, 17)]


@pytest.mark.parametrize(
    "definition, use, expected",
    [
        (r"\renewcommand\mycite[1]{\citep{#1}}", r"\mycite{a,b}", ["a", "b"]),
        (r"\DeclareRobustCommand{\mycite}[2]{\cite[#1]{#2}}", r"\mycite{p.~3}{a}", ["a"]),
        (r"\newcommand{\mycite}[2][]{\cite[#1]{#2}}", r"\mycite[p.~3]{a} \mycite{b}", ["a"]),
        (r"\providecommand*{\mycite}[1]{\textcite{#1}}", r"\mycite{a}", ["a"]),
        (r"\def\mycite#1{\parencite{#1}}", r"\mycite{a}", ["a"]),
        (r"\NewDocumentCommand{\mycite}{m}{\cite{#1}}", r"\mycite{a,b}", ["a", "b"]),
        (r"\NewDocumentCommand\mycite{ o m }{\parencite[#1]{#2}}", r"\mycite[p.~3]{a} \mycite{b}", ["a"]),
        ("\\DeclareDocumentCommand{\\mycite}{O{} m}\n  {\\textcite[#1]{#2}}", r"\mycite{a}", ["a"]),
        (r"\RenewDocumentCommand{\mycite}{m m}{\citetitle{#2}}", r"\mycite{x}{a}", ["a"]),
    ],
)
def test_user_macro_definition_forms(definition, use, expected):
    found = keys(definition + "\n" + use)
    assert found[0] == expected


def test_macro_wrapping_another_user_macro():
    text = "\\newcommand{\\a}[1]{\\cite{#1}}\\newcommand{\\b}[1]{\\a{#1}}\n\\b{k}"
    assert [macro.name for macro in find_cite_macros(text)] == ["a", "b"]
    assert keys(text) == [["k"]]


def test_macros_defined_elsewhere_are_passed_in():
    assert keys(r"\inlinecite{k}") == []
    assert keys(r"\inlinecite{k}", extra_cite_macros=[CiteMacro("inlinecite")]) == [["k"]]
    assert keys(r"\mycite{k}", extra_cite_macros=["\\mycite"]) == [["k"]]


def test_a_definition_body_is_not_a_citation_of_its_parameter():
    assert keys(r"\newcommand{\mycite}[1]{\cite{#1}}") == []


def test_command_without_keys_is_not_a_citation():
    assert keys(r"\let\mycite\cite \citeauthor and \cite{}") == []


def test_never_closing_cite_is_reported_and_the_rest_still_read():
    scan = scan_latex("\\cite{abc\nmore text \\cite{b}\n", "t.tex")
    assert [citation.key_names for citation in scan.citations] == [["b"]]
    assert scan.problems == ["t.tex:1: \\cite{ is never closed (or holds a command instead of keys)"]


def test_unbalanced_braces_everywhere_do_not_break_scanning():
    text = "}}}{{{ \\textbf{ \\cite[ \\cite{a} \\input{ \\bibliography{ \\newcommand{\\x}[1]{\\cite{#1}"
    scan = scan_latex(text, "t.tex")
    assert [citation.key_names for citation in scan.citations] == [["a"]]


def test_includes_of_every_kind():
    text = r"""
\input{sections/intro} \input sections/bare
\include{chapter1}
\import{parts/}{one} \subimport{sub}{two.tex}
\subfile{appendix} \inputfrom{dir}{three} \subincludefrom{d2}{four} \import{}{five}
% \input{commented}
\includegraphics{figure} \input@path
"""
    assert latex_includes(text) == ["sections/intro", "sections/bare", "chapter1", "parts/one", "sub/two.tex",
                                    "appendix", "dir/three", "d2/four", "five"]
    relative = {include.path: include.relative_to_file for include in scan_latex(text).includes}
    assert relative["sub/two.tex"] and relative["d2/four"] and not relative["parts/one"]


def test_bibliography_declarations():
    text = r"\bibliography{refs, more.bib,../shared/lib} \addbibresource[datatype=bibtex]{x.bib} \addglobalbib{g.bib} % \bibliography{no}"
    assert latex_bibliographies(text) == ["refs.bib", "more.bib", "../shared/lib.bib", "x.bib", "g.bib"]
    assert latex_bibliographies(r"\addbibresource[location=remote]{http://example.org/a.bib} \bibliography{\jobname}") == []


def test_cite_command_names_include_capitalised_forms():
    assert {"Cite", "Parencite", "Textcite", "Autocite", "Smartcite", "Citet"} <= CITE_COMMANDS


@pytest.mark.parametrize(("text", "expected"), [
    ("\\cite{a}\n\\iffalse\n\\cite{hidden}\n\\fi\n\\cite{b}", [["a"], ["b"]]),
    ("\\iffalse \\ifx\\a\\b \\cite{x}\\fi \\cite{y} \\fi \\cite{z}", [["z"]]),
    ("\\iffalse \\cite{x} \\else \\cite{shown} \\fi", [["shown"]]),
    ("\\iffalse \\ifdraft \\cite{x} \\else \\cite{y} \\fi \\cite{w} \\fi \\cite{z}", [["z"]]),
    ("\\iffalse % \\fi in a comment\n\\cite{x}\n\\fi \\cite{z}", [["z"]]),
    ("\\iffalse $a \\iff b$ \\cite{x} \\fi \\cite{z}", [["z"]]),
    ("\\iffalse \\\\fi \\cite{x} \\fi \\cite{z}", [["z"]]),
    ("\\iffalsehood \\cite{a}", [["a"]]),
    ("\\cite{a} \\iffalse \\cite{never-closed}", [["a"]]),
], ids=["block", "nested", "else-branch", "nested-else", "fi-in-comment", "iff-symbol", "escaped-newline",
        "longer-name", "unterminated"])
def test_iffalse_blocks_are_skipped(text, expected):
    assert keys(text) == expected


def test_iffalse_masking_keeps_positions():
    text = "\\iffalse\n\\cite{x}\n\\fi\n\\cite{b}"
    masked = mask_comments_and_verbatim(text)
    assert len(masked) == len(text) and masked.count("\n") == text.count("\n")
    assert "\\cite{x}" not in masked and masked.endswith("\\cite{b}")


def test_document_commands_with_other_argument_specs_are_not_cite_macros():
    text = r"\NewDocumentCommand{\mycite}{s m}{\cite{#2}}" + "\n" + r"\mycite*{a} \cite{b}"
    assert find_cite_macros(text) == [] and keys(text) == [["b"]]


# --- drafts as authors write them (patterns from theses, books, LaTeX Workshop and texlab reports) ---


def test_a_bibliography_argument_typed_over_two_lines_keeps_every_file(tmp_path):
    """`\\bibliography{long,%` + newline + `  other}`: the second line changes which files the
    draft uses, so an edit there must not leave the server with the first file only."""
    from citewise.server.drafts.uris import path_to_uri
    from citewise.server.features.settings import Settings
    from citewise.server.features.workspace import Workspace

    for name in ("long", "other"):
        (tmp_path / f"{name}.bib").write_text(f"@misc{{{name}, title={{T}}}}\n", encoding="utf-8")
    draft = tmp_path / "thesis.tex"
    ws = Workspace([str(tmp_path)], Settings(index_path=str(tmp_path / "none.sqlite")))
    uri = path_to_uri(str(draft))
    ws.open_document(uri, "\\cite{long}\n\\bibliography{long,%\n  }\n", 1)
    assert [p.rsplit("/", 1)[1] for p in ws.bib_paths_for(uri)] == ["long.bib"]
    ws.update_document(uri, "\\cite{long}\n\\bibliography{long,%\n  other}\n", 2)
    assert [p.rsplit("/", 1)[1] for p in ws.bib_paths_for(uri)] == ["long.bib", "other.bib"]


@pytest.mark.parametrize(
    "text",
    [
        # LaTeX Workshop and texlab users' optional arguments: nested braces, URLs with `%`, line breaks.
        "\\parencite[see the manual at \\url{https://example.org/guide%20v2} and\\newline the \\emph{notes} in][]{key}",
        "\\parencite[see the manual at \\url{https://example.org/guide%20v2} and\n  the \\emph{notes} in][]{key}",
        "\\parencite[see \\emph{the \\textbf{bold} notes}][p.~4]{key}",
        "\\textcite[{see\n [1]} and \\href{https://example.org/?a=1%2C2}{the manual}][]{key}",
    ],
)
def test_optional_arguments_with_commands_urls_and_line_breaks_keep_their_citation(text):
    assert keys(text + "\n") == [["key"]]


def test_a_url_percent_is_no_comment_but_a_real_comment_still_hides():
    text = "\\url{https://x.org/a%20b} \\cite{shown} % \\cite{hidden}\n"
    assert keys(text) == [["shown"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\bibliography{\\jobname}", ["thesis.bib"]),
        ("\\newcommand\\bibpath{refs/main}\n\\bibliography{\\bibpath,extra}", ["refs/main.bib", "extra.bib"]),
        ("\\def\\bibdir{../bib}\n\\newcommand{\\bibs}{\\bibdir/a}\n\\addbibresource{\\bibs.bib}", ["../bib/a.bib"]),
    ],
)
def test_bibliography_paths_with_commands_are_resolved(text, expected):
    scan = scan_latex(text + "\n", "/papers/thesis.tex")
    assert scan.bibliographies == expected and scan.problems == []


def test_bibliography_commands_that_cannot_be_resolved_or_are_remote_are_reported():
    text = ("\\addbibresource[location=remote]{https://example.org/refs.bib}\n"
            "\\bibliography{\\labbibs}\n\\addbibresource{local.bib}\n")
    scan = scan_latex(text, "/papers/thesis.tex")
    assert scan.bibliographies == ["local.bib"]
    assert scan.problems == [
        "/papers/thesis.tex:1: \\addbibresource{https://example.org/refs.bib} is a remote resource: "
        "citewise reads only local .bib files",
        "/papers/thesis.tex:2: \\bibliography{\\labbibs}: a command in the path is not defined as plain text "
        "in the draft; no .bib file read from it",
    ]


def test_a_path_command_from_another_file_of_the_draft_and_jobname_of_the_root(tmp_path):
    from citewise.server.drafts.project import load_draft

    (tmp_path / ".git").mkdir()
    (tmp_path / "bib").mkdir()
    (tmp_path / "bib" / "refs.bib").write_text("@misc{a, title={A}}\n", encoding="utf-8")
    (tmp_path / "thesis.bib").write_text("@misc{b, title={B}}\n", encoding="utf-8")
    (tmp_path / "preamble.tex").write_text("\\newcommand{\\bibdir}{bib}\n", encoding="utf-8")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "end.tex").write_text("\\bibliography{\\bibdir/refs,\\jobname}\n", encoding="utf-8")
    (tmp_path / "thesis.tex").write_text("\\input{preamble}\n\\cite{a,b}\n\\input{chapters/end}\n", encoding="utf-8")
    draft = load_draft(tmp_path / "thesis.tex")
    assert draft.bib_files == [str(tmp_path / "bib" / "refs.bib"), str(tmp_path / "thesis.bib")]
    assert draft.errors == []


@pytest.mark.parametrize(
    "text",
    [
        "\\cite{a,% the first\n b}",
        "\\cite{%\n  a,%\n  b%\n}",
        "\\cite% a comment between command and keys\n{a,b}",
        "\\parencite[see]% a comment between the options\n[p.~4]{a,\n b}",
    ],
)
def test_comments_and_newlines_anywhere_inside_cite_arguments(text):
    assert keys(text + "\n") == [["a", "b"]]


def test_nocite_star_means_every_entry_for_diagnostics_and_citewise_bib(tmp_path):
    """`\\nocite{*}` (here in an included chapter, written over two lines) cites the whole bibliography:
    no entry is "unused", and `citewise bib` writes them all."""
    from citewise.server.drafts.bibgen import generate_bib
    from citewise.server.drafts.project import load_draft
    from citewise.server.drafts.uris import path_to_uri
    from citewise.server.features.diagnostics import diagnostics
    from citewise.server.features.settings import Settings
    from citewise.server.features.workspace import Workspace

    (tmp_path / ".git").mkdir()
    (tmp_path / "refs.bib").write_text("@misc{a, title={A}}\n\n@misc{b, title={B}}\n", encoding="utf-8")
    (tmp_path / "all.tex").write_text("\\nocite{%\n  *}\n", encoding="utf-8")
    (tmp_path / "thesis.tex").write_text("\\cite{a}\n\\input{all}\n\\bibliography{refs}\n", encoding="utf-8")
    assert generate_bib([load_draft(tmp_path / "thesis.tex")]).keys == ["a", "b"]
    ws = Workspace([str(tmp_path)], Settings(index_path=str(tmp_path / "none.sqlite")))
    ws.open_document(path_to_uri(str(tmp_path / "thesis.tex")), (tmp_path / "thesis.tex").read_text(), 1)
    bib_uri = path_to_uri(str(tmp_path / "refs.bib"))
    ws.open_document(bib_uri, (tmp_path / "refs.bib").read_text(), 1)
    assert [problem for problem in diagnostics(ws, bib_uri) if "not cited" in problem.message] == []
