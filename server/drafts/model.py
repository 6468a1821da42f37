"""Plain records for citations found in drafts: who cites what, where.

Lines and columns are 0-based (LSP style) and count Python characters (code
points) within the line; the language server converts them to UTF-16 units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Syntax = Literal["latex", "pandoc", "myst"]


@dataclass
class KeyUse:
    """One citation key as written inside a citation."""

    key: str
    line: int
    col: int
    end_col: int


@dataclass
class Citation:
    """One citation command (`\\citep[p.~3]{a, b}`, `[@a; @b]`, `{cite:p}`a``) and its keys."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    command: str
    keys: list[KeyUse]
    syntax: Syntax

    @property
    def key_names(self) -> list[str]:
        return [use.key for use in self.keys]


@dataclass
class TextRange:
    """A stretch of text on one or more lines, end exclusive."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int


@dataclass
class CitationContext:
    """What the cursor sits in while an author types a citation, for key completion.

    `prefix` is the part of the key typed before the cursor; `range` covers the
    whole key under the cursor (a completion replaces it). `insert_style` is
    "key" when the key goes in as is and "at-key" when it needs a leading `@`
    (Pandoc, cursor after `; ` with no `@` typed yet).
    """

    syntax: Syntax
    command: str
    prefix: str
    range: TextRange
    keys_present: list[str]
    insert_style: Literal["key", "at-key"] = "key"


@dataclass
class Draft:
    """A document and the files it pulls in: their citations and declared bibliographies.

    `errors` holds one-line messages (`file:line: problem`) about includes that
    were not followed, unreadable files and bibliographies that do not exist.
    """

    root: str
    files: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    bib_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def cited_keys(self) -> list[str]:
        """Distinct keys in order of first citation."""
        seen: dict[str, None] = {}
        for citation in self.citations:
            for use in citation.keys:
                seen.setdefault(use.key, None)
        return list(seen)
