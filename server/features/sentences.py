"""Sentences in drafts: the one at the cursor, its neighbour, and where a citation goes in it.

Sentence ends are `.`, `!` or `?` followed by whitespace, a blank line, or a LaTeX
sectioning/environment line. Abbreviations such as "et al." and "e.g." and decimal
numbers do not end sentences. The search never looks further than `WINDOW` characters
from the cursor, so a 10 MB paragraph costs the same as a short one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WINDOW = 3_000
_ABBREVIATIONS = {"al", "e.g", "i.e", "etc", "cf", "fig", "figs", "eq", "eqs", "sec", "ref", "refs", "vs",
                  "resp", "approx", "no", "vol", "pp", "ch", "dr", "prof", "mr", "mrs", "ms", "st", "tab"}
_END = re.compile(r"[.!?](?=[\s)\]}'\"]|$)")
_BREAK = re.compile(r"\n[ \t]*\n|\n\s*\\(?:(?:sub)*section|paragraph|chapter|begin|end|item|caption)\b|\n\s*#{1,6}\s|\n\s*[-*+]\s|\n\s*---")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


@dataclass(frozen=True)
class Sentence:
    start: int  # offset of the first character
    end: int  # offset just after the closing punctuation (or the last character)
    text: str

    @property
    def insertion_offset(self) -> int:
        """Where a citation goes: before the final punctuation, else after the last character."""
        stripped = self.text.rstrip()
        end = self.start + len(stripped)
        return end - 1 if stripped[-1:] in (".", "!", "?") else end


def _is_sentence_end(text: str, at: int) -> bool:
    """Whether the punctuation at `at` ends a sentence (not an abbreviation or a decimal)."""
    if text[at] != ".":
        return True
    before = _WORD_BEFORE.search(text, max(0, at - 12), at)
    if before and before.group(1).lower().rstrip(".") in _ABBREVIATIONS:
        return False
    if before and len(before.group(1)) == 1 and before.group(1).isupper():
        return False  # an initial such as "A. Vaswani"
    return not (at + 1 < len(text) and text[at + 1].isdigit())


def _boundaries(text: str, low: int, high: int) -> list[int]:
    """Offsets (within [low, high]) where a sentence starts."""
    starts = []
    for match in _END.finditer(text, low, high):
        if _is_sentence_end(text, match.start()):
            starts.append(match.end())
    for match in _BREAK.finditer(text, low, high):
        starts.append(match.start() + 1)
    return sorted(set(starts))


def sentences_near(text: str, offset: int, window: int = WINDOW) -> tuple[Sentence | None, Sentence | None, Sentence | None]:
    """The sentence containing `offset`, and the ones before and after it (None where absent)."""
    offset = max(0, min(offset, len(text)))
    low, high = max(0, offset - window), min(len(text), offset + window)
    cuts = [low] + [c for c in _boundaries(text, low, high) if low < c < high] + [high]
    pieces = [(a, b) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()]
    if not pieces:
        return None, None, None
    index = next((i for i, (a, b) in enumerate(pieces) if offset <= b), len(pieces) - 1)
    start, end = pieces[index]
    if offset < start and index > 0 and not text[pieces[index - 1][1]:offset].strip():
        index -= 1

    def make(i: int) -> Sentence | None:
        if not 0 <= i < len(pieces):
            return None
        a, b = pieces[i]
        while a < b and text[a].isspace():
            a += 1
        return Sentence(a, b, text[a:b])

    return make(index - 1), make(index), make(index + 1)


def same_paragraph(text: str, first: Sentence, second: Sentence) -> bool:
    """Whether no blank line, heading or environment line separates `first` from the later `second`."""
    return _BREAK.search(text, first.start, second.start) is None


def sentence_at(text: str, offset: int, window: int = WINDOW) -> Sentence | None:
    return sentences_near(text, offset, window)[1]
