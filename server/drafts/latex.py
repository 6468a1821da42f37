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

from citewise.server.drafts.latex_macros import (
    CITE_COMMANDS,
    COMMAND,
    DEFINERS,
    GAP,
    GROUP,
    MULTICITE_COMMANDS,
    OPTIONAL_ARGUMENT,
    SPACE,
    CiteMacro,
    as_macros,
    macros_in,
    nth_argument,
    skip_optional_arguments,
)
from citewise.server.drafts.latex_mask import mask_comments_and_verbatim
from citewise.server.drafts.model import Citation, KeyUse
from citewise.server.drafts.textutil import DraftLineIndex

INCLUDE_COMMANDS = frozenset(
    {"input", "include", "subfile", "import", "subimport", "inputfrom", "subinputfrom",
     "includefrom", "subincludefrom"}
)
BIBLIOGRAPHY_COMMANDS = frozenset({"bibliography", "nobibliography", "addbibresource", "addglobalbib", "addsectionbib"})
_PARENS = re.compile(r"\((?:[^()\[\]{}]|\{[^{}]*\})*+\)")
_CITE_ARGUMENTS = re.compile(f"{GAP}(?:{OPTIONAL_ARGUMENT}{GAP}){{0,2}}" + r"\{([^{}\\]*)\}")
_KEY = re.compile(r"[^\s,{}](?:[^,{}\n]*[^\s,{}])?")  # never across a line: a KeyUse lies on one line
_KEY_GROUP = re.compile(r"\{([^{}\\]*)\}")
_BARE_INPUT = re.compile(r"[ \t]+([^\s{}\\%]+)")
# `\newcommand\bibpath{refs/main}`, `\def\bibdir{../bib}`: a command standing for plain text.
_TEXT_MACRO = re.compile(
    r"\\(?:(?:re)?newcommand\*?|providecommand\*?|def)\s*(?:\{\s*\\([A-Za-z@]+)\s*\}|\\([A-Za-z@]+))\s*\{([^{}]*)\}")
_PATH_MACRO = re.compile(r"\\([A-Za-z@]+)(?:\{\})?")
_REMOTE = re.compile(r"location\s*=\s*remote")


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
    macros = {macro.name: macro for macro in as_macros(extra_cite_macros)}
    defined_here = macros_in(masked, macros.values())
    macros.update((macro.name, macro) for macro in defined_here)
    own_text_macros = {(m.group(1) or m.group(2)): m.group(3).strip() for m in _TEXT_MACRO.finditer(masked)}
    path_macros = {**dict(text_macros), **own_text_macros}
    if jobname or file:
        path_macros.setdefault("jobname", jobname or PurePath(file).stem)
    scanner = _Scanner(masked, file, macros, path_macros)
    for match in COMMAND.finditer(masked):
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
        naming_a_definition, self.after_definer = self.after_definer, name in DEFINERS
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
            pos = skip_optional_arguments(self.text, pos, limit=2, pattern=_PARENS)
        while True:
            pos = skip_optional_arguments(self.text, pos, limit=2)
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
        group = nth_argument(self.text, match.end(), macro)
        if group is not None and "\\" not in group.group(1) and "{" not in group.group(1):
            end = SPACE.match(self.text, group.end()).start()
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
        pos = SPACE.match(self.text, match.end()).end()
        first = GROUP.match(self.text, pos)
        if name in ("input", "include", "subfile"):
            bare = None if first else _BARE_INPUT.match(self.text, match.end())
            path = first.group(1) if first else bare.group(1) if bare else None
            relative_to_file = False
        else:
            second = GROUP.match(self.text, SPACE.match(self.text, first.end()).end()) if first else None
            folder = first.group(1).strip().rstrip("/") if first else ""
            path = (f"{folder}/" if folder else "") + second.group(1).strip() if second else None
            relative_to_file = name.startswith("sub")
        if path is None or not path.strip() or "#" in path or "\\" in path:
            return
        line, col = self.positions.at(match.start())
        self.result.includes.append(Include(path.strip(), "\\" + name, line, col, relative_to_file))

    def _bibliography(self, match: re.Match) -> None:
        command = match.group(1)
        pos = skip_optional_arguments(self.text, match.end(), limit=1)
        group = GROUP.match(self.text, pos)
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
