r"""Find citations, bibliography declarations and included files in LaTeX source.

One pass over the text with comments, verbatim material and `\iffalse` blocks
blanked out (latex_mask.py: same length, same line breaks, so every position stays true). Every pattern here
is linear: groups are matched with possessive quantifiers over disjoint
character classes, and a key list may not contain `{` or `\`, so a brace that
never closes costs one short scan, not a rescan of the rest of the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from citewise.server.drafts.latex_mask import mask_comments_and_verbatim
from citewise.server.drafts.model import Citation, KeyUse
from citewise.server.drafts.textutil import DraftLineIndex

_CITE_BASES = (
    "cite", "citep", "citet", "citealp", "citealt", "citeauthor", "citeyear", "citeyearpar",
    "citetitle", "citeurl", "citedate", "citen", "citenum", "citeA", "citeNP", "parencite",
    "textcite", "autocite", "footcite", "footcitetext", "fullcite", "footfullcite", "smartcite",
    "supercite", "nocite",
)
CITE_COMMANDS = frozenset(_CITE_BASES) | {name[0].upper() + name[1:] for name in _CITE_BASES}
_MULTICITE_BASES = ("cites", "parencites", "textcites", "autocites", "footcites", "smartcites", "supercites")
MULTICITE_COMMANDS = frozenset(_MULTICITE_BASES) | {name.capitalize() for name in _MULTICITE_BASES}

INCLUDE_COMMANDS = frozenset(
    {"input", "include", "subfile", "import", "subimport", "inputfrom", "subinputfrom",
     "includefrom", "subincludefrom"}
)
BIBLIOGRAPHY_COMMANDS = frozenset({"bibliography", "nobibliography", "addbibresource", "addglobalbib", "addsectionbib"})
_DEFINE_COMMANDS = frozenset({"newcommand", "renewcommand", "providecommand", "DeclareRobustCommand", "newrobustcmd"})
_DOCUMENT_COMMANDS = frozenset(
    {"NewDocumentCommand", "RenewDocumentCommand", "ProvideDocumentCommand", "DeclareDocumentCommand"}
)
_DEFINERS = _DEFINE_COMMANDS | _DOCUMENT_COMMANDS | {"def"}

_COMMAND = re.compile(r"\\([A-Za-z@]+)(\*?)")
_GAP = r"[ \t]*(?:\r?\n[ \t]*)?"
_BRACED = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*+\})*+\}"  # up to three levels: `{\emph{the \textbf{notes}}}`
_OPTIONAL_ARGUMENT = r"\[(?:[^\[\]{}]|" + _BRACED + r")*+\]"
_SPACE = re.compile(_GAP)
_OPTIONAL = re.compile(_OPTIONAL_ARGUMENT)
_PARENS = re.compile(r"\((?:[^()\[\]{}]|\{[^{}]*\})*+\)")
_CITE_ARGUMENTS = re.compile(f"{_GAP}(?:{_OPTIONAL_ARGUMENT}{_GAP}){{0,2}}" + r"\{([^{}\\]*)\}")
_KEY = re.compile(r"[^\s,{}](?:[^,{}\n]*[^\s,{}])?")  # never across a line: a KeyUse lies on one line
_KEY_GROUP = re.compile(r"\{([^{}\\]*)\}")
_GROUP = re.compile(r"\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*+\})*+)\}")
_BARE_INPUT = re.compile(r"[ \t]+([^\s{}\\%]+)")
_MACRO_NAME = re.compile(r"\s*(?:\{\s*\\([A-Za-z@]+)\s*\}|\\([A-Za-z@]+))")
_PARAM_COUNT = re.compile(r"\s*\[\s*(\d)\s*\]")
# The argument specs `\newcommand` could also express: an optional argument first, then mandatory ones.
_ARGUMENT_SPEC = re.compile(r"\s*(o|O\{[^{}]*\})?\s*((?:m\s*)*)")
_DEF = re.compile(r"\s*\\([A-Za-z@]+)((?:#\d)*)\s*")
# `\newcommand\bibpath{refs/main}`, `\def\bibdir{../bib}`: a command standing for plain text.
_TEXT_MACRO = re.compile(
    r"\\(?:(?:re)?newcommand\*?|providecommand\*?|def)\s*(?:\{\s*\\([A-Za-z@]+)\s*\}|\\([A-Za-z@]+))\s*\{([^{}]*)\}")
_PATH_MACRO = re.compile(r"\\([A-Za-z@]+)(?:\{\})?")
_REMOTE = re.compile(r"location\s*=\s*remote")
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


@dataclass(frozen=True)
class Include:
    r"""A file pulled in by `\input`, `\include`, `\import`, `\subfile`…, as written.

    `relative_to_file` is true for `\subimport`-style commands, whose path is
    relative to the including file rather than to the root document.
    """

    path: str
    command: str
    line: int
    col: int
    relative_to_file: bool = False


@dataclass
class LatexScan:
    """Everything found in one LaTeX file."""

    citations: list[Citation] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    bibliographies: list[str] = field(default_factory=list)
    macros: list[CiteMacro] = field(default_factory=list)
    text_macros: dict[str, str] = field(default_factory=dict)
    """Commands defined here as plain text (`\\newcommand\\bibpath{refs}`), for bibliography paths."""
    unresolved_bibliographies: list[str] = field(default_factory=list)
    """Bibliography arguments (as written) using a command this scan could not resolve."""
    problems: list[str] = field(default_factory=list)


def find_latex_citations(text: str, file: str = "", extra_cite_macros: Iterable[str | CiteMacro] = ()) -> list[Citation]:
    """Every citation in one LaTeX text, in order (see `scan_latex`)."""
    return scan_latex(text, file, extra_cite_macros).citations


def latex_bibliographies(text: str) -> list[str]:
    r"""Bibliography files declared with `\bibliography{a,b}` (".bib" added) or `\addbibresource{x.bib}`."""
    return scan_latex(text).bibliographies


def latex_includes(text: str) -> list[str]:
    r"""Paths pulled in by `\input`, `\include`, `\import{dir}{file}`, `\subfile`…, as written."""
    return [include.path for include in scan_latex(text).includes]


def find_cite_macros(text: str, known: Iterable[CiteMacro] = ()) -> list[CiteMacro]:
    r"""Commands defined with `\newcommand`, `\NewDocumentCommand`, `\def`… around a cite command."""
    return _macros_in(mask_comments_and_verbatim(text), known)


def _macros_in(masked: str, known: Iterable[CiteMacro]) -> list[CiteMacro]:
    macros: dict[str, CiteMacro] = {macro.name: macro for macro in known}
    found: list[CiteMacro] = []
    for match in _COMMAND.finditer(masked):
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
        body = _GROUP.match(text, header.end())
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
    pos = _SPACE.match(text, pos).end()
    default = _OPTIONAL.match(text, pos)
    if default:
        pos = _SPACE.match(text, default.end()).end()
    body = _GROUP.match(text, pos)
    if body is None:
        return None
    return name.group(1) or name.group(2), params, default is not None, body.group(1)


def _read_document_command(text: str, pos: int) -> tuple[str, int, bool, str] | None:
    r"""`\NewDocumentCommand{\name}{o m}{body}` and its siblings, for the argument specs of `_ARGUMENT_SPEC`."""
    name = _MACRO_NAME.match(text, pos)
    spec = _GROUP.match(text, _SPACE.match(text, name.end()).end()) if name else None
    shape = _ARGUMENT_SPEC.fullmatch(spec.group(1)) if spec else None
    body = _GROUP.match(text, _SPACE.match(text, spec.end()).end()) if shape else None
    if body is None:
        return None
    optional = shape.group(1) is not None
    return name.group(1) or name.group(2), int(optional) + shape.group(2).count("m"), optional, body.group(1)


def _wrapped_key_argument(body: str, macros: dict[str, CiteMacro]) -> int | None:
    """The parameter number (#n) a definition body passes as the keys of a cite command."""
    for match in _COMMAND.finditer(body):
        name = match.group(1)
        if name in CITE_COMMANDS or name in MULTICITE_COMMANDS:
            pos = _skip_optional_arguments(body, match.end(), limit=2)
            group = _GROUP.match(body, pos)
        elif name in macros:
            group = _nth_argument(body, match.end(), macros[name])
        else:
            continue
        if group is not None:
            param = _KEY_PARAM.fullmatch(group.group(1))
            if param:
                return int(param.group(1))
    return None


def _skip_optional_arguments(text: str, pos: int, limit: int, pattern: re.Pattern = _OPTIONAL) -> int:
    pos = _SPACE.match(text, pos).end()
    for _ in range(limit):
        optional = pattern.match(text, pos)
        if optional is None:
            break
        pos = _SPACE.match(text, optional.end()).end()
    return pos


def _nth_argument(text: str, pos: int, macro: CiteMacro) -> re.Match | None:
    """The braced argument of a user macro that holds the keys, or None when it is not there."""
    pos = _SPACE.match(text, pos).end()
    first_mandatory = 1
    if macro.optional_first:
        first_mandatory = 2
        optional = _OPTIONAL.match(text, pos)
        if optional:
            pos = _SPACE.match(text, optional.end()).end()
    for number in range(first_mandatory, macro.params + 1):
        group = _GROUP.match(text, pos)
        if group is None:
            return None
        if number == macro.key_arg:
            return group
        pos = _SPACE.match(text, group.end()).end()
    return None


def scan_latex(text: str, file: str = "", extra_cite_macros: Iterable[str | CiteMacro] = (),
               text_macros: Mapping[str, str] = (), jobname: str | None = None) -> LatexScan:
    r"""Citations, includes, bibliography declarations and problems in one LaTeX text.

    Macros defined in the text itself are found first; `extra_cite_macros`
    adds those defined elsewhere in the project (a name alone behaves like `\cite`).
    Bibliography paths may use `\jobname` (the root file's name: `jobname`, else this
    file's) and plain-text commands defined here or in `text_macros`; one that cannot be
    resolved, and a remote resource, is a problem, not a file.
    """
    masked = mask_comments_and_verbatim(text)
    macros = {macro.name: macro for macro in _as_macros(extra_cite_macros)}
    defined_here = _macros_in(masked, macros.values())
    macros.update((macro.name, macro) for macro in defined_here)
    own_text_macros = {(m.group(1) or m.group(2)): m.group(3).strip() for m in _TEXT_MACRO.finditer(masked)}
    path_macros = {**dict(text_macros), **own_text_macros}
    if jobname or file:
        path_macros.setdefault("jobname", jobname or PurePath(file).stem)
    scanner = _Scanner(masked, file, macros, path_macros)
    for match in _COMMAND.finditer(masked):
        scanner.handle(match)
    scanner.result.macros = defined_here
    scanner.result.text_macros = own_text_macros
    return scanner.result


def _expand_path_macros(value: str, macros: Mapping[str, str]) -> str | None:
    """A bibliography path with its plain-text commands replaced; None when one is unknown."""
    for _ in range(8):  # commands defined by other commands, a few levels deep
        if "\\" not in value:
            return value
        unknown = False

        def replace(match: re.Match) -> str:
            nonlocal unknown
            if match.group(1) not in macros:
                unknown = True
                return match.group(0)
            return macros[match.group(1)]

        value = _PATH_MACRO.sub(replace, value)
        if unknown:
            return None
    return None


def _as_macros(items: Iterable[str | CiteMacro]) -> list[CiteMacro]:
    return [CiteMacro(item.lstrip("\\")) if isinstance(item, str) else item for item in items]


class _Scanner:
    """Turns command matches in masked text into citations, includes and declarations."""

    def __init__(self, masked: str, file: str, macros: dict[str, CiteMacro], path_macros: dict[str, str]):
        self.text = masked
        self.file = file
        self.macros = macros
        self.path_macros = path_macros
        self.positions = DraftLineIndex(masked)
        self.result = LatexScan()
        self.after_definer = False

    def handle(self, match: re.Match) -> None:
        name = match.group(1)
        naming_a_definition, self.after_definer = self.after_definer, name in _DEFINERS
        if naming_a_definition:  # `\newcommand{\mycite}…` or `\NewDocumentCommand\mycite{o m}…`: not a use
            return
        if name in CITE_COMMANDS:
            self._cite(match, multicite=False)
        elif name in MULTICITE_COMMANDS:
            self._cite(match, multicite=True)
        elif name in self.macros:
            self._macro_cite(match, self.macros[name])
        elif name in INCLUDE_COMMANDS:
            self._include(match)
        elif name in BIBLIOGRAPHY_COMMANDS:
            self._bibliography(match)

    def _cite(self, match: re.Match, multicite: bool) -> None:
        pos = match.end()
        if not multicite and (simple := _CITE_ARGUMENTS.match(self.text, pos)):
            self._add_citation(match, "\\" + match.group(1) + match.group(2), [simple], simple.end())
            return
        groups: list[re.Match] = []
        if multicite:
            pos = _skip_optional_arguments(self.text, pos, limit=2, pattern=_PARENS)
        while True:
            pos = _skip_optional_arguments(self.text, pos, limit=2)
            if pos >= len(self.text) or self.text[pos] != "{":
                break
            group = _KEY_GROUP.match(self.text, pos)
            if group is None:
                self._problem(pos, f"\\{match.group(1)}{{ is never closed (or holds a command instead of keys)")
                break
            groups.append(group)
            pos = group.end()
            if not multicite:
                break
        if groups:
            self._add_citation(match, "\\" + match.group(1) + match.group(2), groups, groups[-1].end())

    def _macro_cite(self, match: re.Match, macro: CiteMacro) -> None:
        group = _nth_argument(self.text, match.end(), macro)
        if group is not None and "\\" not in group.group(1) and "{" not in group.group(1):
            end = _SPACE.match(self.text, group.end()).start()
            self._add_citation(match, "\\" + macro.name, [group], end)

    def _add_citation(self, match: re.Match, command: str, groups: list[re.Match], end: int) -> None:
        keys = [use for group in groups for use in self._key_uses(group)]
        if not keys:
            return
        line, col = self.positions.at(match.start())
        end_line, end_col = self.positions.at(end)
        self.result.citations.append(Citation(self.file, line, col, end_line, end_col, command, keys, "latex"))

    def _key_uses(self, group: re.Match) -> list[KeyUse]:
        uses = []
        one_line = "\n" not in group.group(1)
        line, first_col = self.positions.at(group.start(1))
        for key in _KEY.finditer(self.text, group.start(1), group.end(1)):
            name = key.group(0)
            if "#" in name:
                continue
            if one_line:
                col = first_col + key.start() - group.start(1)
            else:
                line, col = self.positions.at(key.start())
            uses.append(KeyUse(name, line, col, col + len(name)))
        return uses

    def _include(self, match: re.Match) -> None:
        name = match.group(1)
        pos = _SPACE.match(self.text, match.end()).end()
        first = _GROUP.match(self.text, pos)
        if name in ("input", "include", "subfile"):
            bare = None if first else _BARE_INPUT.match(self.text, match.end())
            path = first.group(1) if first else bare.group(1) if bare else None
            relative_to_file = False
        else:
            second = _GROUP.match(self.text, _SPACE.match(self.text, first.end()).end()) if first else None
            folder = first.group(1).strip().rstrip("/") if first else ""
            path = (f"{folder}/" if folder else "") + second.group(1).strip() if second else None
            relative_to_file = name.startswith("sub")
        if path is None or not path.strip() or "#" in path or "\\" in path:
            return
        line, col = self.positions.at(match.start())
        self.result.includes.append(Include(path.strip(), "\\" + name, line, col, relative_to_file))

    def _bibliography(self, match: re.Match) -> None:
        command = match.group(1)
        pos = _skip_optional_arguments(self.text, match.end(), limit=1)
        group = _GROUP.match(self.text, pos)
        if group is None:
            return
        written = " ".join(group.group(1).split())
        if _REMOTE.search(self.text, match.end(), pos) or "://" in written:
            self._problem(match.start(), f"\\{command}{{{written}}} is a remote resource: citewise reads only local .bib files")
            return
        value = _expand_path_macros(group.group(1), self.path_macros)
        if value is None:
            self.result.unresolved_bibliographies.append(written)
            self._problem(match.start(), f"\\{command}{{{written}}}: a command in the path is not defined as plain "
                                         "text in the draft; no .bib file read from it")
            return
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            if command in ("bibliography", "nobibliography") and not name.endswith(".bib"):
                name += ".bib"
            self.result.bibliographies.append(name)

    def _problem(self, offset: int, message: str) -> None:
        line, _ = self.positions.at(offset)
        self.result.problems.append(f"{self.file or '<text>'}:{line + 1}: {message}")
