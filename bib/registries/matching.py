"""Does a registry record describe the work an entry means? Titles, first authors and years.

Normal differences are forgiven: case, accents, LaTeX markup (`{\\"u}`, `{BERT}`, `$\\alpha$`),
punctuation, a subtitle one side leaves out, a `RETRACTED:` prefix, initials for given names,
particles (`van der`), and a year off by one (online-first versus print). Everything else is a
disagreement: a registry answer is never accepted without its title agreeing with the query.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from citewise.bib.bibtex.latex import latex_to_unicode
from citewise.bib.model import Author, normalize_title
from citewise.bib.text import ascii_fold

SAME_TITLE = 92.0
"""rapidfuzz ratio (0-100) above which two normalised titles count as the same title."""
_NOTICE_PREFIX = re.compile(r"^(retracted( article)?|withdrawn|expression of concern)\s*[:.\-]\s*", re.IGNORECASE)


def title_key(title: str) -> str:
    """Lowercase ASCII words of a title as written in a .bib or by a registry."""
    return normalize_title(_NOTICE_PREFIX.sub("", latex_to_unicode(title).strip()))


def title_similarity(first: str, second: str) -> float:
    """0-100: how alike two titles are once normalised."""
    a, b = title_key(first), title_key(second)
    if not a or not b:
        return 0.0
    return fuzz.ratio(a, b)


def titles_agree(first: str, second: str) -> bool:
    """The same title, allowing markup, case, accents, punctuation, typos and a dropped subtitle."""
    a, b = title_key(first), title_key(second)
    if not a or not b:
        return False
    if a == b or fuzz.ratio(a, b) >= SAME_TITLE:
        return True
    shorter, longer = sorted((a, b), key=len)
    return len(shorter.split()) >= 3 and longer.startswith(shorter + " ") and _subtitle_split(first, second)


def _subtitle_split(first: str, second: str) -> bool:
    """One title is the other plus a subtitle after `:`, `.`, `?`, `!` or a dash."""
    shorter, longer = sorted((latex_to_unicode(first), latex_to_unicode(second)), key=lambda t: len(title_key(t)))
    head = title_key(shorter)
    return any(title_key(longer[:match.start()]) == head for match in re.finditer(r"[:.?!]|\s[-–—]\s", longer))


def family_key(author: Author) -> str:
    """A family name reduced for comparison: ASCII, lowercase, letters only, particles dropped."""
    words = re.findall(r"[a-z]+", ascii_fold(latex_to_unicode(author.family)).lower())
    while len(words) > 1 and words[0] in ("van", "von", "der", "de", "den", "la", "le", "di", "da", "del", "dos", "du"):
        words = words[1:]
    return "".join(words)


def first_authors_agree(mine: list[Author], theirs: list[Author]) -> bool | None:
    """Whether the first authors agree; None when one side names nobody (nothing to compare)."""
    if not mine or not theirs:
        return None
    first = family_key(mine[0])
    if not first:
        return None
    candidates = {family_key(author) for author in theirs[:3]}
    if first in candidates:
        return True
    # "Family, Given" written the other way round, or a collective author spelt out.
    flipped = re.sub(r"[^a-z]", "", ascii_fold(latex_to_unicode(mine[0].given)).lower())
    return bool(flipped) and flipped in candidates


def years_agree(mine: str, theirs: str) -> bool | None:
    """Equal or one apart (online-first versus print); None when either is unknown."""
    a, b = re.search(r"\d{4}", mine or ""), re.search(r"\d{4}", theirs or "")
    if not a or not b:
        return None
    return abs(int(a.group()) - int(b.group())) <= 1
