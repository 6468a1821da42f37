r"""A draft as a whole: the root file, the files it pulls in, its citations and bibliographies.

LaTeX includes are looked up relative to the root document's directory (where
LaTeX runs), then relative to the including file; `\subimport` relative to
the including file only. A file is read once: an `\input` cycle is reported and
not followed, and so is an include that resolves outside the project
directory (the nearest folder above the root holding `.git`, `_quarto.yml`,
`myst.yml`… or else the root's own folder).

Markdown bibliographies come from the front matter and from project files
found walking up to the project root: `_quarto.yml`, `_metadata.yml`,
`_bookdown.yml` (`bibliography:`), `myst.yml` (`project: bibliography:`) and
Jupyter Book's `_config.yml` (`bibtex_bibfiles:`). All declared files are
kept, the document's own first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from citewise.bib.errors import CitewiseError, SourceError
from citewise.bib.files import decode, open_regular, read_text
from citewise.server.drafts.context import citation_at
from citewise.server.drafts.latex import Include, LatexScan, scan_latex
from citewise.server.drafts.markdown import front_matter, scan_markdown
from citewise.server.drafts.model import Draft
from citewise.server.drafts.suffixes import DRAFT_FORMATS, LATEX_SUFFIXES, MARKDOWN_SUFFIXES
from citewise.server.drafts.uris import uri_to_path
from citewise.server.drafts.yaml_metadata import parse_yaml, string_list

__all__ = ["citation_at", "find_project_root", "find_root_document", "language_of", "load_draft", "read_source"]

PROJECT_MARKERS = (".git", "_quarto.yml", "_bookdown.yml", "myst.yml", "_config.yml", ".latexmkrc", "latexmkrc", ".texlabroot")
MAX_INCLUDE_DEPTH = 64
MAX_PROBLEMS_PER_FILE = 20
_MAGIC_ROOT = re.compile(r"^%\s*!\s*TeX\s+root\s*=\s*(.+?)\s*$", re.I | re.M)
_SUBFILES_CLASS = re.compile(r"\\documentclass\s*\[([^\]]+)\]\s*\{subfiles\}")


def language_of(path_or_uri: str | Path) -> str | None:
    """"latex" or "markdown" from a file name or file:// URI; None for anything else."""
    suffix = Path(uri_to_path(str(path_or_uri))).suffix.lower()
    if suffix in LATEX_SUFFIXES:
        return "latex"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    return None


def read_source(path: str | Path) -> str:
    """A draft file's text by the one decoding policy (`citewise.bib.files`); raises SourceError
    for anything but a regular text file of at most 256 MB."""
    return read_text(path, "a LaTeX or Markdown draft").text


def find_project_root(path: str | Path) -> Path:
    """The nearest folder at or above the file's folder holding a project marker, else the file's folder."""
    folder = _real(path).parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def find_root_document(path: str | Path, text: str | None = None) -> Path:
    r"""The main document a LaTeX part belongs to, from `% !TeX root = …` or `\documentclass[main]{subfiles}`."""
    path = _real(path)
    if language_of(path) != "latex":
        return path
    head = (text if text is not None else _read_head(path))[:4096]
    declared = _MAGIC_ROOT.search(head) or _SUBFILES_CLASS.search(head)
    if declared is None:
        return path
    for name in (declared.group(1), declared.group(1) + ".tex"):
        candidate = _real(path.parent / name)
        if candidate.is_file() and candidate != path:
            return candidate
    return path


def _read_head(path: Path) -> str:
    try:
        with open_regular(path) as handle:
            return decode(handle.read(4096)).text
    except SourceError:
        return ""


def load_draft(path: str | Path, project_root: str | Path | None = None, open_texts: Mapping[str, str] | None = None) -> Draft:
    """Read a draft and every file it includes; citations file by file, files in the order first read.

    `open_texts` maps resolved paths to unsaved editor text that replaces the
    file's content. Raises CitewiseError when the root itself cannot be read;
    problems with included files land in `Draft.errors`.
    """
    root = _real(path)
    language = language_of(root)
    if language is None:
        raise CitewiseError(f"{path}: not a {DRAFT_FORMATS} draft")
    loader = _Loader(root, _real(project_root) if project_root else find_project_root(root), open_texts or {})
    root_text = loader.text_of(root)
    if language == "latex":
        return loader.load_latex(root_text)
    return loader.load_markdown(root_text)


@dataclass
class _LatexFile:
    path: Path
    text: str
    scan: LatexScan


class _Loader:
    """Walks one draft's include tree."""

    def __init__(self, root: Path, project_root: Path, open_texts: Mapping[str, str]):
        self.root = root
        self.project_root = project_root
        self.open_texts = open_texts
        self.draft = Draft(root=str(root))

    def text_of(self, path: Path) -> str:
        if str(path) in self.open_texts:
            return self.open_texts[str(path)]
        return read_source(path)

    def load_latex(self, root_text: str) -> Draft:
        files: list[_LatexFile] = []
        self._visit_latex(self.root, root_text, [], files)
        known = [macro for file in files for macro in file.scan.macros]
        text_macros = {name: body for file in files for name, body in file.scan.text_macros.items()}
        for file in files:
            own = {macro.name for macro in file.scan.macros}
            extra = [macro for macro in known if macro.name not in own]
            # A bibliography path may use a command another file of the draft defines.
            if extra or file.scan.unresolved_bibliographies:
                scan = scan_latex(file.text, str(file.path), extra, text_macros, self.root.stem)
            else:
                scan = file.scan
            for name in scan.bibliographies:
                if name not in file.scan.bibliographies:
                    self._declare_bib(name, [self.root.parent, file.path.parent], f"{file.path}")
            self.draft.citations.extend(scan.citations)
            self.draft.errors.extend(scan.problems[:MAX_PROBLEMS_PER_FILE])
            if len(scan.problems) > MAX_PROBLEMS_PER_FILE:
                hidden = len(scan.problems) - MAX_PROBLEMS_PER_FILE
                self.draft.errors.append(f"{file.path}: {hidden} more problems like these not shown")
        return self.draft

    def _visit_latex(self, path: Path, text: str, stack: list[Path], files: list[_LatexFile]) -> None:
        scan = scan_latex(text, str(path), jobname=self.root.stem)
        files.append(_LatexFile(path, text, scan))
        self.draft.files.append(str(path))
        for name in scan.bibliographies:
            self._declare_bib(name, [self.root.parent, path.parent], f"{path}")
        for include in scan.includes:
            target = self._resolve_include(include, path)
            if target is None:
                continue
            if target in stack or target == path:
                self._error(path, include.line, f"{include.command}{{{_short(include.path)}}} makes an include cycle; not followed")
                continue
            if str(target) in self.draft.files:
                continue
            if len(stack) >= MAX_INCLUDE_DEPTH:
                self._error(path, include.line, f"{include.command}{{{_short(include.path)}}}: includes nest deeper than {MAX_INCLUDE_DEPTH} levels; not followed")
                continue
            try:
                included_text = self.text_of(target)
            except CitewiseError as error:
                self._error(path, include.line, f"{include.command}{{{_short(include.path)}}}: {error}")
                continue
            self._visit_latex(target, included_text, [*stack, path], files)

    def _resolve_include(self, include: Include, including: Path) -> Path | None:
        bases = [including.parent] if include.relative_to_file else [self.root.parent, including.parent]
        names = [include.path] if include.path.endswith(".tex") else [include.path + ".tex", include.path]
        candidates = [path for base in bases for name in names if (path := _resolved(base / name))]
        if not candidates:
            self._error(including, include.line, f"{include.command}{{...}}: not a usable file name")
            return None
        present = [candidate for candidate in candidates if _is_file(candidate)] or [c for c in candidates if _exists(c)]
        if present:
            if not present[0].is_relative_to(self.project_root):
                self._error(including, include.line, f"{include.command}{{{_short(include.path)}}} is outside the project directory {self.project_root}; not followed")
                return None
            return present[0]
        if all(not candidate.is_relative_to(self.project_root) for candidate in candidates):
            self._error(including, include.line, f"{include.command}{{{_short(include.path)}}} is outside the project directory {self.project_root}; not followed")
        else:
            self._error(including, include.line, f"{include.command}{{{_short(include.path)}}}: file not found")
        return None

    def load_markdown(self, root_text: str) -> Draft:
        for name in self._visit_markdown(self.root, root_text, []):
            self._declare_bib(name, [self.root.parent], str(self.root))
        for config, names in _project_bibliographies(self.root.parent, self.project_root):
            for name in names:
                self._declare_bib(name, [config.parent], str(config))
        return self.draft

    def _visit_markdown(self, path: Path, text: str, stack: list[Path]) -> list[str]:
        """Read one Markdown file and its includes; returns the bibliographies its front matter names."""
        scan = scan_markdown(text, str(path))
        self.draft.files.append(str(path))
        self.draft.citations.extend(scan.citations)
        for name, line in scan.includes:
            target = _resolved((self.project_root / name.lstrip("/")) if name.startswith("/") else (path.parent / name))
            if target is None:
                self._error(path, line, "include: not a usable file name")
            elif target in stack or target == path:
                self._error(path, line, f"include {_short(name)} makes an include cycle; not followed")
            elif not target.is_relative_to(self.project_root):
                self._error(path, line, f"include {_short(name)} is outside the project directory {self.project_root}; not followed")
            elif len(stack) >= MAX_INCLUDE_DEPTH:
                self._error(path, line, f"include {_short(name)}: includes nest deeper than {MAX_INCLUDE_DEPTH} levels; not followed")
            elif str(target) not in self.draft.files:
                try:
                    self._visit_markdown(target, self.text_of(target), [*stack, path])
                except CitewiseError as error:
                    self._error(path, line, f"include {_short(name)}: {error}")
        return scan.bibliographies

    def _declare_bib(self, name: str, bases: list[Path], declared_in: str) -> None:
        candidates = [path for base in bases if (path := _resolved(base / name))]
        if not candidates:
            self.draft.errors.append(f"{declared_in}: declared bibliography is not a usable file name")
            return
        found = next((candidate for candidate in candidates if _is_file(candidate)), None)
        found = found or next((candidate for candidate in candidates if _exists(candidate)), None)
        chosen = str(found or candidates[0])
        if chosen in self.draft.bib_files:
            return
        self.draft.bib_files.append(chosen)
        if found is None:
            self.draft.errors.append(f"{declared_in}: declared bibliography {_short(name)} not found")

    def _error(self, path: Path, line: int, message: str) -> None:
        self.draft.errors.append(f"{path}:{line + 1}: {message}")


def _short(name: str, limit: int = 120) -> str:
    """A file name as messages show it: cut in the middle when absurdly long."""
    return name if len(name) <= limit else f"{name[: limit // 2]}…{name[-limit // 2 :]}"


def _real(path: str | Path) -> Path:
    """The absolute path with symlinks followed; a symlink loop stays as it is (reading it reports the loop)."""
    return Path(os.path.realpath(path))


def _resolved(path: Path) -> Path | None:
    """The absolute path, or None for names no file system accepts (NUL bytes, too long)."""
    try:
        return _real(path)
    except (OSError, ValueError):
        return None


def _exists(path: Path) -> bool:
    """Something is there (a file, a folder, a FIFO, a broken link...): reading it says what is wrong."""
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


_PROJECT_FILES = (
    ("_quarto.yml", ("bibliography",)),
    ("_metadata.yml", ("bibliography",)),
    ("_bookdown.yml", ("bibliography",)),
    ("myst.yml", ("project", "bibliography")),
    ("_config.yml", ("bibtex_bibfiles",)),
)


def _project_bibliographies(start: Path, project_root: Path) -> list[tuple[Path, list[str]]]:
    """(config file, bibliography names) for project files from `start` up to the project root.

    A bookdown book declares its bibliography in the front matter of `index.Rmd`
    beside `_bookdown.yml`, so that file counts as a project file there.
    """
    found = []
    folders = [start, *start.parents] if start.is_relative_to(project_root) else [start]
    for folder in folders:
        candidates = [(folder / file_name, key_path) for file_name, key_path in _PROJECT_FILES]
        if (folder / "_bookdown.yml").is_file():
            candidates.append((folder / "index.Rmd", ("bibliography",)))
        for config, key_path in candidates:
            if config.is_file():
                names = _yaml_strings(config, key_path)
                if names:
                    found.append((config, names))
        if folder == project_root:
            break
    return found


def _yaml_strings(config: Path, key_path: tuple[str, ...]) -> list[str]:
    try:
        text = read_source(config)
    except CitewiseError:
        return []
    value = front_matter(text)[0] if language_of(config) == "markdown" else parse_yaml(text)
    for key in key_path:
        value = value.get(key) if isinstance(value, dict) else None
    return string_list(value)
