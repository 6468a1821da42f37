"""Field parsing with bibtexparser 1.4: the only module of citewise that parses with it
(names.py borrows its `splitname`).

The scanner (scan.py) cuts a file into blocks; this module turns one block's raw text into
its fields, with `@string` macros expanded and `#` concatenations joined. Moving to
bibtexparser 2 later means rewriting this module and names.py's one import.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

import bibtexparser
from bibtexparser.bibdatabase import as_text
from bibtexparser.bparser import BibTexParser

# bibtexparser logs each failed parse as an error; citewise reports them as SourceErrors instead.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

_local = threading.local()
_ENTRY_TYPE = re.compile(r"@[^{(]*")


class FieldParseError(ValueError):
    """bibtexparser could not read the fields of one block."""


class _Macros(OrderedDict):
    """`@string` macros; an undefined macro expands to its own name, as BibTeX warns and goes on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.undefined: list[str] = []
        self.last_defined: str | None = None

    def __setitem__(self, name: str, value) -> None:
        super().__setitem__(name, value)
        self.last_defined = name

    def __missing__(self, name: str) -> str:
        self.undefined.append(name)
        return name


def _parser(macros: dict[str, str]) -> BibTexParser:
    """A parser for this thread (building one costs milliseconds), loaded with `macros`."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = BibTexParser(ignore_nonstandard_types=False, common_strings=True)
        parser.expect_multiple_parse = True
        _local.parser = parser
        _local.common = dict(parser.bib_database.strings)
    database = parser.bib_database
    database.entries.clear()
    database.comments.clear()
    database.preambles.clear()
    database.strings = _Macros({**_local.common, **macros})
    database.strings.last_defined = None
    return parser


def parse_entry_fields(raw: str, macros: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Fields of one entry (lowercased names, without type and key) and the undefined macros it uses.

    The scanner has already read the type, so it is replaced by a plain word bibtexparser
    accepts (it rejects `@web_page`). When parsing fails, the text between fields is tidied
    (biber's `%` comments dropped, `:` in biblatex annotation names like `author+an:x` made `-`)
    and parsing is tried once more.
    """
    raw = _ENTRY_TYPE.sub("@entry", raw, count=1)
    try:
        database = _parse_one(raw, macros)
    except FieldParseError:
        tidied = _tidy_between_fields(raw)
        if tidied == raw:
            raise
        database = _parse_one(tidied, macros)
    fields = {name: value for name, value in database.entries[0].items() if name not in ("ENTRYTYPE", "ID")}
    return fields, list(database.strings.undefined)


def _parse_one(raw: str, macros: dict[str, str]):
    parser = _parser(macros)
    try:
        database = parser.parse(raw)
    except Exception as error:  # pyparsing raises several unrelated exception classes
        raise FieldParseError(_first_line(error)) from None
    if not database.entries:
        raise FieldParseError("its fields could not be read (a missing comma or `=`?)")
    return database


def _tidy_between_fields(raw: str) -> str:
    """Outside values: `%` comments to the end of the line dropped, `:` after the key made `-`."""
    out, depth, quoted, position = [], 0, False, 0
    after_key = False
    while position < len(raw):
        char = raw[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 1:
            quoted = not quoted
        elif char == "%" and depth == 1 and not quoted:
            end = raw.find("\n", position)
            position = len(raw) if end < 0 else end
            continue
        elif char == "," and depth == 1 and not quoted:
            after_key = True
        elif char == ":" and depth == 1 and not quoted and after_key:
            char = "-"
        out.append(char)
        position += 1
    return "".join(out)


def parse_string_definition(raw: str, macros: dict[str, str]) -> tuple[str, str]:
    """The (lowercased name, expanded value) of one `@string` block, given the macros defined before it."""
    parser = _parser(macros)
    try:
        database = parser.parse(raw)
    except Exception as error:  # as above
        raise FieldParseError(_first_line(error)) from None
    name = database.strings.last_defined
    if name is None:
        raise FieldParseError("the @string definition could not be read")
    return name.lower(), as_text(database.strings[name])


def parse_preamble(raw: str, macros: dict[str, str]) -> str:
    """The text of one `@preamble` block."""
    parser = _parser(macros)
    try:
        database = parser.parse(raw)
    except Exception as error:  # as above
        raise FieldParseError(_first_line(error)) from None
    if not database.preambles:
        raise FieldParseError("the @preamble could not be read")
    return as_text(database.preambles[0])


def load_whole_file(text: str) -> int:
    """Entries found by plain `bibtexparser.loads`: the baseline the benchmark prints beside ours.

    Macros are left unexpanded, because plain bibtexparser stops at the first undefined one."""
    parser = BibTexParser(ignore_nonstandard_types=False, interpolate_strings=False)
    return len(bibtexparser.loads(text, parser).entries)


def _first_line(error: Exception) -> str:
    message = str(error).strip().splitlines()
    return message[0] if message else type(error).__name__
