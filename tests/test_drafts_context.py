"""citation_at: what the author is typing inside a citation, for key completion."""

from __future__ import annotations

import pytest

from citewise.server.drafts.context import citation_at
from citewise.server.drafts.latex_macros import CiteMacro
from citewise.server.drafts.model import TextRange


def at(marked: str, language: str, **options):
    """citation_at with the cursor where `|` is."""
    offset = marked.index("|")
    text = marked.replace("|", "", 1)
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return citation_at(text, language, line, col, **options)


def test_latex_partial_key_in_an_open_cite():
    context = at(r"see \cite{ab|", "latex")
    assert (context.syntax, context.command, context.prefix, context.keys_present) == ("latex", "\\cite", "ab", [])
    assert context.range == TextRange(0, 10, 0, 12)
    assert context.insert_style == "key"


def test_latex_after_optional_arguments_with_other_keys_around():
    context = at(r"\citep[p.~3]{x, y|z, w} more", "latex")
    assert (context.command, context.prefix, context.keys_present) == ("\\citep", "y", ["x", "w"])
    assert context.range == TextRange(0, 16, 0, 18)


def test_latex_empty_slot_after_comma_and_multiline():
    context = at("\\parencite[see]{alpha,\n  |}", "latex")
    assert (context.prefix, context.keys_present, context.range) == ("", ["alpha"], TextRange(1, 2, 1, 2))


def test_latex_multicite_collects_keys_of_earlier_groups():
    context = at(r"\cites[a]{k1}[b]{k2, |", "latex")
    assert (context.command, context.keys_present) == ("\\cites", ["k1", "k2"])


def test_latex_starred_capitalised_and_user_macro():
    assert at(r"\Textcite*{ke|", "latex").command == "\\Textcite"
    assert at(r"\inlinecite{ke|", "latex") is None
    assert at(r"\inlinecite{ke|", "latex", extra_cite_macros=[CiteMacro("inlinecite")]).prefix == "ke"


@pytest.mark.parametrize(
    "marked",
    [r"% \cite{ab|", r"\cite[ab|]{x}", r"\textbf{ab|}", "\\cite{a}\n\ntext|", r"\cit|e{a}", r"\cite{a} b|",
     "\\begin{verbatim}\n\\cite{a|", r"\verb|\cite{x", r"\cite{a}{b|"],
)
def test_latex_outside_a_citation_is_none(marked):
    assert at(marked, "latex") is None


def test_never_closing_cite_far_from_the_cursor_is_not_a_context():
    assert at("\\cite{" + "words " * 2000 + "|", "latex") is None


def test_pandoc_bracketed_and_suppressed():
    context = at("[@ab|", "markdown")
    assert (context.syntax, context.command, context.prefix, context.range) == ("pandoc", "[@", "ab", TextRange(0, 2, 0, 4))
    context = at("Smith [-@|", "markdown")
    assert (context.command, context.prefix) == ("[-@", "")


def test_pandoc_next_item_without_at_inserts_at_key():
    context = at("see [@a, p. 3; |", "markdown")
    assert (context.prefix, context.keys_present, context.insert_style) == ("", ["a"], "at-key")


def test_pandoc_middle_key_with_neighbours():
    context = at("[@a, p. 3; @b|c; @d]", "markdown")
    assert (context.prefix, context.keys_present, context.range) == ("b", ["a", "d"], TextRange(0, 12, 0, 14))


def test_pandoc_in_text():
    context = at("as @smi|th says", "markdown")
    assert (context.command, context.prefix, context.range) == ("@", "smi", TextRange(0, 4, 0, 9))


def test_myst_role():
    context = at("{cite:p}`a,|`", "markdown")
    assert (context.syntax, context.command, context.prefix, context.keys_present) == ("myst", "{cite:p}", "", ["a"])
    assert at("{cite}`ab|", "markdown").prefix == "ab"


@pytest.mark.parametrize(
    "marked",
    ["mail a@b|", "`@co|`", "```\n@x|\n```", "[see @fig-|", "@sec-intro|", "[a link|", "\\@handle|",
     "---\nauthor: '@me|'\n---\n", "    @indented|"],
)
def test_markdown_outside_a_citation_is_none(marked):
    assert at(marked, "markdown") is None


def test_unknown_language_and_positions_past_the_end():
    assert at(r"\cite{a|", "plaintext") is None
    assert citation_at("\\cite{ab", "latex", 0, 99).range == TextRange(0, 6, 0, 8)
    assert citation_at("x\n\\cite{ab", "latex", 5, 99).range == TextRange(1, 6, 1, 8)


def test_cursor_far_down_a_long_text():
    text = "line\n" * 200_000 + "\\citep{abc"
    context = citation_at(text, "latex", 200_000, 10)
    assert (context.prefix, context.range) == ("abc", TextRange(200_000, 7, 200_000, 10))


@pytest.mark.parametrize(
    "marked, expected",
    [
        ("Para.\n\n    @co|", None),
        ("Para.\n    @lazy|", "lazy"),
        ("- item\n\n    @inlist|", "inlist"),
        ("```{python}\nx = 1\n```\n\n@after|", "after"),
        ("~~~~\n```\n@inside|", None),
    ],
)
def test_markdown_code_blocks_around_the_cursor(marked, expected):
    context = at(marked, "markdown")
    assert (context.prefix if context else None) == expected
