"""The file suffixes that make a draft, listed once: what the language server opens, `citewise`
commands accept, and every message and help text about drafts names (through `DRAFT_FORMATS`).

A module of its own, importing nothing, so the CLI's `--help` can name them without loading the parser.
"""

LATEX_SUFFIXES = (".tex", ".ltx", ".latex")
MARKDOWN_SUFFIXES = (".md", ".markdown", ".qmd", ".rmd", ".rmarkdown", ".myst")
DRAFT_SUFFIXES = LATEX_SUFFIXES + MARKDOWN_SUFFIXES
"""Every draft file suffix (lower case), for `str.endswith`."""
DRAFT_FORMATS = f"LaTeX ({', '.join(LATEX_SUFFIXES)}) or Markdown ({', '.join(MARKDOWN_SUFFIXES)})"
"""The suffixes as people read them in messages: "LaTeX (.tex, …) or Markdown (.md, …)"."""
