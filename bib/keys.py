"""Citation keys: Better BibTeX's default formula, a small template language, and disambiguation.

The default key is Better BibTeX's `auth.lower + shorttitle(3,3) + year`:
"Attention Is All You Need" by Vaswani et al., 2017 -> `vaswaniAttentionAllYou2017`.
When that key is taken, `a`, `b`, `c`, … `z`, `aa`, … is appended.

Template language (`KeyFormula`): parts joined by `+`, each a function with optional
arguments and any number of modifiers:

    auth             family name of the first author (or editor), ASCII, spaces and punctuation removed
    authors          family names of all authors, joined
    year             the four-digit year
    title            every significant title word, each capitalized, joined
    shorttitle(n,m)  the first n significant title words, the first m of them capitalized
    veryshorttitle   shorttitle(1,1)
    "text"           literal text (also 'text')
    .lower / .upper  modifiers, e.g. `auth.lower`, `shorttitle(2,0).upper`

Significant words skip Better BibTeX's function words (a, an, the, of, on, in, is, and, …).

Stability: a key once given to a reference must never change, even when its title or
authors are edited later. This module only computes keys; callers keep the stored key
(the index, the .bib file) and call `make_key` only for references that have none, passing
every key in use as `taken`. `FreeKeys` is the one suffix rule, for formula keys and for
keys a source gave that collide in the index alike.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Container
from dataclasses import dataclass

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Reference
from citewise.bib.text import ascii_fold

DEFAULT_FORMULA = "auth.lower + shorttitle(3,3) + year"

_STOP_WORDS = frozenset(
    """a ab aboard about above across after against al along amid among an and anti around as at
    before behind below beneath beside besides between beyond but by d da das de del dell dello dei
    degli della delle dem den der des despite die do down du during ein eine einem einen einer eines
    el en et except for from gli i il in inside into is l la las le les like lo los near nor of off on
    onto or over past per plus round save since so some sur than the through to toward towards un una
    unas under underneath une unlike uno unos until up upon versus via von while with within without
    yet zu zum""".split()
)

def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", ascii_fold(text))


def _creators(ref: Reference):
    return ref.authors or ref.editors


def _auth(ref: Reference) -> str:
    creators = _creators(ref)
    return _alphanumeric(creators[0].family) if creators else ""


def _authors(ref: Reference) -> str:
    return "".join(_alphanumeric(person.family) for person in _creators(ref))


def _year(ref: Reference) -> str:
    found = re.search(r"\d{4}", ref.year or ref.date)
    return found.group() if found else ""


def _significant_words(ref: Reference) -> list[str]:
    words = re.findall(r"[A-Za-z0-9]+", ascii_fold(re.sub(r"[{}$\\]", "", ref.title)).replace("'", ""))
    return [word for word in words if word.lower() not in _STOP_WORDS]


def _capitalize(word: str) -> str:
    return word[:1].upper() + word[1:]


def _shorttitle(ref: Reference, count: int, capitalized: int) -> str:
    words = _significant_words(ref)[:count]
    return "".join(_capitalize(word) if i < capitalized else word.lower() for i, word in enumerate(words))


def _title(ref: Reference) -> str:
    return "".join(_capitalize(word) for word in _significant_words(ref))


_Function = Callable[..., str]
_FUNCTIONS: dict[str, tuple[_Function, int]] = {
    "auth": (_auth, 0),
    "authors": (_authors, 0),
    "year": (_year, 0),
    "title": (_title, 0),
    "shorttitle": (_shorttitle, 2),
    "veryshorttitle": (lambda ref: _shorttitle(ref, 1, 1), 0),
}
_MODIFIERS: dict[str, Callable[[str], str]] = {"lower": str.lower, "upper": str.upper}
_PART = re.compile(
    r"""\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<name>[a-z]+)(?:\((?P<args>[^)]*)\))?(?P<mods>(?:\.[a-z]+)*))\s*$"""
)


@dataclass(frozen=True)
class _Part:
    literal: str
    function: _Function | None
    arguments: tuple[int, ...]
    modifiers: tuple[Callable[[str], str], ...]

    def render(self, ref: Reference) -> str:
        if self.function is None:
            return self.literal
        value = self.function(ref, *self.arguments)
        for modifier in self.modifiers:
            value = modifier(value)
        return value


class KeyFormula:
    """A parsed key template; `KeyFormula("auth.lower + year").make(ref, taken)`."""

    def __init__(self, template: str = DEFAULT_FORMULA):
        self.template = template
        self._parts = [self._parse_part(text) for text in _split_parts(template)]

    def base_key(self, ref: Reference) -> str:
        """The key before disambiguation; prefixed `anon` when the formula gives no letter."""
        key = "".join(part.render(ref) for part in self._parts)
        key = re.sub(r"[^A-Za-z0-9_:.\-]", "", key)
        return key if re.search(r"[A-Za-z]", key) else f"anon{key}"

    def make(self, ref: Reference, taken: Container[str] = ()) -> str:
        """A key for `ref` not in `taken`: the base key, else with `a`, `b`, … appended."""
        return FreeKeys(taken).free(self.base_key(ref))

    def _parse_part(self, text: str) -> _Part:
        if not text.strip():
            raise self._error("empty part (nothing on one side of a `+`?)")
        match = _PART.match(text)
        if not match:
            raise self._error(f"cannot read {text.strip()!r}")
        literal = match.group("dq") if match.group("dq") is not None else match.group("sq")
        if literal is not None:
            return _Part(literal, None, (), ())
        name = match.group("name")
        if name not in _FUNCTIONS:
            raise self._error(f"unknown part {name!r} (known: {', '.join(_FUNCTIONS)})")
        function, arity = _FUNCTIONS[name]
        arguments = self._arguments(name, match.group("args"), arity)
        modifiers = []
        for modifier in filter(None, match.group("mods").split(".")):
            if modifier not in _MODIFIERS:
                raise self._error(f"unknown modifier .{modifier} (known: .lower, .upper)")
            modifiers.append(_MODIFIERS[modifier])
        return _Part("", function, arguments, tuple(modifiers))

    def _arguments(self, name: str, text: str | None, arity: int) -> tuple[int, ...]:
        values = [value.strip() for value in text.split(",")] if text and text.strip() else []
        if len(values) != arity or not all(value.isdigit() for value in values):
            expected = f"{name}({', '.join(['n'] * arity)}) with whole numbers" if arity else f"{name} without arguments"
            raise self._error(f"{name} takes {arity} argument(s): write {expected}")
        return tuple(int(value) for value in values)

    def _error(self, detail: str) -> CitewiseError:
        return CitewiseError(f"invalid citation key template {self.template!r}: {detail}")


def _split_parts(template: str) -> list[str]:
    """Split at `+` outside quotes (empty parts are kept, so they are reported)."""
    parts, current, quote = [], [], ""
    for char in template:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "+":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def suffix(number: int) -> str:
    """The disambiguation suffix number `number`: 0 -> "", 1 -> a, … 26 -> z, 27 -> aa, … 702 -> zz, 703 -> aaa."""
    letters = []
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters.append(string.ascii_lowercase[rest])
    return "".join(reversed(letters))


class FreeKeys:
    """The one key-suffix rule: `free(base)` is `base` when not in `taken`, else `base` with
    the first of `a` … `z`, `aa` … `zz`, `aaa` … that is not.

    Keys only ever join `taken`, so where `base` last ended up is where the next search for
    it starts: handing out n keys with the same base costs O(n), not O(n²). One instance
    serves one batch of keys (a file read, an index update).
    """

    def __init__(self, taken: Container[str]):
        self.taken = taken
        self._resume: dict[str, int] = {}

    def free(self, base: str) -> str:
        number = self._resume.get(base, 0)
        while base + suffix(number) in self.taken:
            number += 1
        self._resume[base] = number
        return base + suffix(number)


_default = KeyFormula()


def make_key(ref: Reference, taken: Container[str] = ()) -> str:
    """The default (Better BibTeX) key for `ref`, not in `taken`."""
    return _default.make(ref, taken)


def fill_keys(references: list[Reference], taken: set[str]) -> None:
    """Give every reference without a key the default key, unique among `taken` (which
    receives each new key): linear in the number of references."""
    free_keys = FreeKeys(taken)
    for ref in references:
        if not ref.key:
            ref.key = free_keys.free(_default.base_key(ref))
            taken.add(ref.key)
