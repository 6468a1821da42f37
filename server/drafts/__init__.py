"""Drafts: citations, included files and declared bibliographies in LaTeX and Markdown, and the .bib they need."""
