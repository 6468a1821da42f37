"""What the fuzz tests share: Hypothesis profiles, real inputs and the mutations applied to them.

Two profiles, chosen by $CITEWISE_FUZZ: `bounded` (the default, and what `make test` runs:
few examples, derandomized so a run is repeatable) and `long` (`make fuzz`: many examples,
random seeds). `examples(n)` scales a test's example count by the profile.

Mutations take a real file (a draft, a .bib, an export) and cut, duplicate, truncate or splice
in syntax-heavy text at random places, which reaches the error paths of a parser far more
often than random text does.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared"

LONG = os.environ.get("CITEWISE_FUZZ", "bounded") == "long"
LONG_FACTOR = 40

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("bounded", derandomize=True, **_COMMON)
settings.register_profile("long", **_COMMON)
settings.load_profile("long" if LONG else "bounded")


def examples(bounded: int) -> int:
    """A test's example count: `bounded` in `make test`, LONG_FACTOR times more in `make fuzz`."""
    return bounded * LONG_FACTOR if LONG else bounded


# Characters that mean something to LaTeX, Markdown, BibTeX or JSON, plus some that mean trouble.
SYNTAX = list("{}[]()@\\%$`\"',;:=#~&^_*<>!|/-+.\n\n\r\t ") + ["\\cite{", "\\begin{", "\\end{", "[@", "@article{",
          "@string{", "}\n", "\"a\":", "\u00e9", "\u2028", "\ufeff", "\x00", "\U0001f600", "\ud83d"[:0] + "\u0301"]
syntax_text = st.lists(st.one_of(st.sampled_from(SYNTAX), st.text(max_size=3)), max_size=60).map("".join)


def read_texts(paths: list[Path], limit: int = 60_000) -> list[str]:
    """The texts of `paths` (decoded leniently, cut at `limit` characters), in a stable order."""
    texts = []
    for path in sorted(paths):
        if path.is_file() and path.stat().st_size:
            texts.append(path.read_bytes().decode("utf-8", errors="replace")[:limit])
    return texts


@st.composite
def mutated(draw, texts: list[str], max_mutations: int = 6) -> str:
    """One of `texts` after a few random cuts, duplications, truncations and insertions."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(0, max_mutations))):
        size = len(text)
        start = draw(st.integers(0, size))
        end = min(size, start + draw(st.integers(0, 200)))
        operation = draw(st.sampled_from(["delete", "duplicate", "insert", "replace", "truncate", "move"]))
        if operation == "delete":
            text = text[:start] + text[end:]
        elif operation == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        elif operation == "insert":
            text = text[:start] + draw(syntax_text) + text[start:]
        elif operation == "replace":
            text = text[:start] + draw(syntax_text) + text[end:]
        elif operation == "truncate":
            text = text[:start]
        else:
            piece = text[start:end]
            rest = text[:start] + text[end:]
            at = draw(st.integers(0, len(rest)))
            text = rest[:at] + piece + rest[at:]
    return text


def inside(text: str, line: int, col: int) -> bool:
    """Whether (line, col), 0-based in code points, is a position in `text` (the end of a line included)."""
    lines = text.split("\n")
    return 0 <= line < len(lines) and 0 <= col <= len(lines[line])
