r"""The LaTeX command syntax the scanner (latex.py) reads, and the cite macros a draft defines itself.

`\newcommand{\mycite}[1]{\citep{#1}}`, `\NewDocumentCommand`, `\def`: a command wrapping a cite
command (or another such macro) becomes a `CiteMacro`, so `\mycite{key}` counts as a citation.
The patterns are linear, as latex.py explains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from citewise.server.drafts.latex_mask import mask_comments_and_verbatim

_CITE_BASES = (
    "cite", "citep", "citet", "citealp", "citealt", "citeauthor", "citeyear", "citeyearpar",
    "citetitle", "citeurl", "citedate", "citen", "citenum", "citeA", "citeNP", "parencite",
    "textcite", "autocite", "footcite", "footcitetext", "fullcite", "footfullcite", "smartcite",
    "supercite", "nocite",
)
CITE_COMMANDS = frozenset(_CITE_BASES) | {name[0].upper() + name[1:] for name in _CITE_BASES}
_MULTICITE_BASES = ("cites", "parencites", "textcites", "autocites", "footcites", "smartcites", "supercites")
MULTICITE_COMMANDS = frozenset(_MULTICITE_BASES) | {name.capitalize() for name in _MULTICITE_BASES}

_DEFINE_COMMANDS = frozenset({"newcommand", "renewcommand", "providecommand", "DeclareRobustCommand", "newrobustcmd"})
_DOCUMENT_COMMANDS = frozenset(
    {"NewDocumentCommand", "RenewDocumentCommand", "ProvideDocumentCommand", "DeclareDocumentCommand"}
)
DEFINERS = _DEFINE_COMMANDS | _DOCUMENT_COMMANDS | {"def"}

COMMAND = re.compile(r"\\([A-Za-z@]+)(\*?)")
GAP = r"[ \t]*(?:\r?\n[ \t]*)?"
_BRACED = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*+\})*+\}"  # up to three levels: `{\emph{the \textbf{notes}}}`
OPTIONAL_ARGUMENT = r"\[(?:[^\[\]{}]|" + _BRACED + r")*+\]"
SPACE = re.compile(GAP)
OPTIONAL = re.compile(OPTIONAL_ARGUMENT)
GROUP = re.compile(r"\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*+\})*+)\}")
_MACRO_NAME = re.compile(r"\s*(?:\{\s*\\([A-Za-z@]+)\s*\}|\\([A-Za-z@]+))")
_PARAM_COUNT = re.compile(r"\s*\[\s*(\d)\s*\]")
# The argument specs `\newcommand` could also express: an optional argument first, then mandatory ones.
_ARGUMENT_SPEC = re.compile(r"\s*(o|O\{[^{}]*\})?\s*((?:m\s*)*)")
_DEF = re.compile(r"\s*\\([A-Za-z@]+)((?:#\d)*)\s*")
_KEY_PARAM = re.compile(r"\s*#(\d)\s*")


@dataclass(frozen=True)
class CiteMacro:
    r"""A user command that wraps a cite command, e.g. `\newcommand{\inlinecite}[1]{\citen{#1}}`.

    `params` counts its arguments, `optional_first` says the first is `[..]`,
    `key_arg` is the (1-based) argument holding the keys.
    """

    name: str
    params: int = 1
    optional_first: bool = False
    key_arg: int = 1


def find_cite_macros(text: str, known: Iterable[CiteMacro] = ()) -> list[CiteMacro]:
    r"""Commands defined with `\newcommand`, `\NewDocumentCommand`, `\def`… around a cite command."""
    return macros_in(mask_comments_and_verbatim(text), known)


def macros_in(masked: str, known: Iterable[CiteMacro]) -> list[CiteMacro]:
    macros: dict[str, CiteMacro] = {macro.name: macro for macro in known}
    found: list[CiteMacro] = []
    for match in COMMAND.finditer(masked):
        definition = _read_definition(masked, match)
        if definition is None:
            continue
        name, params, optional_first, body = definition
        key_arg = _wrapped_key_argument(body, macros)
        if key_arg is not None and 1 <= key_arg <= params:
            macro = CiteMacro(name, params, optional_first, key_arg)
            macros[name] = macro
            found.append(macro)
    return found


def _read_definition(text: str, match: re.Match) -> tuple[str, int, bool, str] | None:
    command = match.group(1)
    pos = match.end()
    if command == "def":
        header = _DEF.match(text, pos)
        if header is None:
            return None
        body = GROUP.match(text, header.end())
        params = len(header.group(2)) // 2
        return (header.group(1), params, False, body.group(1)) if body else None
    if command in _DOCUMENT_COMMANDS:
        return _read_document_command(text, pos)
    if command not in _DEFINE_COMMANDS:
        return None
    name = _MACRO_NAME.match(text, pos)
    if name is None:
        return None
    pos = name.end()
    params = 0
    count = _PARAM_COUNT.match(text, pos)
    if count:
        params = int(count.group(1))
        pos = count.end()
    pos = SPACE.match(text, pos).end()
    default = OPTIONAL.match(text, pos)
    if default:
        pos = SPACE.match(text, default.end()).end()
    body = GROUP.match(text, pos)
    if body is None:
        return None
    return name.group(1) or name.group(2), params, default is not None, body.group(1)


def _read_document_command(text: str, pos: int) -> tuple[str, int, bool, str] | None:
    r"""`\NewDocumentCommand{\name}{o m}{body}` and its siblings, for the argument specs of `_ARGUMENT_SPEC`."""
    name = _MACRO_NAME.match(text, pos)
    spec = GROUP.match(text, SPACE.match(text, name.end()).end()) if name else None
    shape = _ARGUMENT_SPEC.fullmatch(spec.group(1)) if spec else None
    body = GROUP.match(text, SPACE.match(text, spec.end()).end()) if shape else None
    if body is None:
        return None
    optional = shape.group(1) is not None
    return name.group(1) or name.group(2), int(optional) + shape.group(2).count("m"), optional, body.group(1)


def _wrapped_key_argument(body: str, macros: dict[str, CiteMacro]) -> int | None:
    """The parameter number (#n) a definition body passes as the keys of a cite command."""
    for match in COMMAND.finditer(body):
        name = match.group(1)
        if name in CITE_COMMANDS or name in MULTICITE_COMMANDS:
            pos = skip_optional_arguments(body, match.end(), limit=2)
            group = GROUP.match(body, pos)
        elif name in macros:
            group = nth_argument(body, match.end(), macros[name])
        else:
            continue
        if group is not None:
            param = _KEY_PARAM.fullmatch(group.group(1))
            if param:
                return int(param.group(1))
    return None


def skip_optional_arguments(text: str, pos: int, limit: int, pattern: re.Pattern = OPTIONAL) -> int:
    pos = SPACE.match(text, pos).end()
    for _ in range(limit):
        optional = pattern.match(text, pos)
        if optional is None:
            break
        pos = SPACE.match(text, optional.end()).end()
    return pos


def nth_argument(text: str, pos: int, macro: CiteMacro) -> re.Match | None:
    """The braced argument of a user macro that holds the keys, or None when it is not there."""
    pos = SPACE.match(text, pos).end()
    first_mandatory = 1
    if macro.optional_first:
        first_mandatory = 2
        optional = OPTIONAL.match(text, pos)
        if optional:
            pos = SPACE.match(text, optional.end()).end()
    for number in range(first_mandatory, macro.params + 1):
        group = GROUP.match(text, pos)
        if group is None:
            return None
        if number == macro.key_arg:
            return group
        pos = SPACE.match(text, group.end()).end()
    return None


def as_macros(items: Iterable[str | CiteMacro]) -> list[CiteMacro]:
    return [CiteMacro(item.lstrip("\\")) if isinstance(item, str) else item for item in items]
