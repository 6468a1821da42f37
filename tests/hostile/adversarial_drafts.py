"""Adversarial drafts: 200 KB of one opener repeated (brackets, braces, math, code, comments) that
no pattern closes, and nested brackets. Each is where a regex of the form `open [^close]* close`
costs quadratic time. Run as a script, it puts every draft through every draft-text function and
prints `ok`; the tests run it in a subprocess with a timeout (bench/bench_nested_brackets.py times it).
"""

from __future__ import annotations

import sys

SIZE = 200_000

OPENERS = [
    "[", "![", "[a](", "[@", "[-@a, p. ", "@{", "\\(", "\\[", "$", "$$x", "`", "```", "{cite}`", "<", "<!--",
    "\\a[", "\\cite[", "\\cite{", "\\citep[p.~3]{a,", "\\begin{", "\\begin{equation}", "\\begin{verbatim}",
    "\\iffalse", "{", "%", "\\input{", "http://", "---\n", "~~~\n", "    ", "- [", "1. (",
]


def drafts(size: int = SIZE) -> dict[str, str]:
    """name -> text, each about `size` characters."""
    shapes = {f"repeated {opener!r}": opener * (size // len(opener)) for opener in OPENERS}
    shapes["nested brackets"] = "[" * (size // 2) + "]" * (size // 2)
    shapes["nested brackets with text"] = "[see " * (size // 10) + "@a]" * (size // 10)
    shapes["nested braces"] = "\\cite{" + "{" * (size // 2) + "}" * (size // 2)
    shapes["nested brackets, one per line"] = ("[" * 40 + "x" + "]" * 40 + "\n") * (size // 82)
    return shapes


def run_all(size: int = SIZE) -> None:
    from citewise.bib.text import strip_markup
    from citewise.server.drafts.context import citation_at
    from citewise.server.drafts.latex import find_latex_citations
    from citewise.server.drafts.markdown import scan_markdown
    from citewise.server.features.sentences import sentences_near
    from citewise.server.features.surroundings import paragraphs, surroundings

    for name, text in drafts(size).items():
        for language in ("markdown", "latex"):
            for start, end in paragraphs(text, language):
                strip_markup(text[start:end])
            surroundings(text, len(text) // 2, language)
            surroundings(text, len(text), language)
        scan_markdown(text, "draft.md")
        find_latex_citations(text, "draft.tex")
        last_line = text.count("\n")
        for language in ("markdown", "latex"):
            citation_at(text, language, last_line, 10**6)
            citation_at(text, language, last_line // 2, 5)
        sentences_near(text, len(text) // 2)
        print(name, flush=True)
    print("ok")


if __name__ == "__main__":
    run_all(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE)
