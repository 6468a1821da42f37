"""Fuzzing the draft parsers (LaTeX, Markdown) and the completion context on generated and
mutated real drafts: no exception escapes, every position returned lies inside the text and
names what the text holds there."""

from __future__ import annotations

from fuzz_support import FIXTURES, REPO, examples, inside, mutated, read_texts, syntax_text
from hypothesis import given, settings
from hypothesis import strategies as st

from citewise.server.drafts.context import citation_at
from citewise.server.drafts.latex import scan_latex
from citewise.server.drafts.markdown import scan_markdown

LATEX = read_texts([*FIXTURES.glob("drafts/**/*.tex"), *FIXTURES.glob("lsp/**/*.tex"), REPO / "examples" / "draft.tex"])
MARKDOWN = read_texts([*FIXTURES.glob("drafts/**/*.qmd"), *FIXTURES.glob("**/*.md")])
positions = st.tuples(st.integers(-3, 400), st.integers(-3, 300))


def check_citations(text: str, citations) -> None:
    lines = text.split("\n")
    for citation in citations:
        assert inside(text, citation.line, citation.col), citation
        assert inside(text, citation.end_line, citation.end_col), citation
        assert (citation.line, citation.col) <= (citation.end_line, citation.end_col), citation
        for use in citation.keys:
            assert inside(text, use.line, use.end_col) and 0 <= use.col <= use.end_col, use
            assert lines[use.line][use.col:use.end_col] == use.key, use


def check_context(text: str, language: str, line: int, col: int) -> None:
    context = citation_at(text, language, line, col)
    if context is not None:
        assert inside(text, context.range.start_line, context.range.start_col), context
        assert inside(text, context.range.end_line, context.range.end_col), context


@settings(max_examples=examples(60))
@given(text=st.one_of(mutated(LATEX), syntax_text), position=positions)
def test_latex_parser_on_mutated_drafts(text, position):
    scan = scan_latex(text, "fuzz.tex")
    check_citations(text, scan.citations)
    check_context(text, "latex", *position)


@settings(max_examples=examples(60))
@given(text=st.one_of(mutated(MARKDOWN), syntax_text), position=positions)
def test_markdown_parser_on_mutated_drafts(text, position):
    scan = scan_markdown(text, "fuzz.md")
    check_citations(text, scan.citations)
    check_context(text, "markdown", *position)


@settings(max_examples=examples(30))
@given(text=mutated(LATEX + MARKDOWN))
def test_each_parser_on_the_other_language(text):
    check_citations(text, scan_latex(text, "fuzz.tex").citations)
    check_citations(text, scan_markdown(text, "fuzz.md").citations)
