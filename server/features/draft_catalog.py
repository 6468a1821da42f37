"""The workspace's drafts: which files are drafts, what each cites and which .bib files it uses.

Every cache here is keyed by the stamps of the files it was computed from
(`OpenDocuments.stamp`: the open document's generation, else mtime and size), and is
recomputed when any of them differs. Two keep a cheaper key for the open draft being typed:
`bib_paths_for` its declaration lines, `project_around` its structure (what it includes,
declares and defines), so that typing prose does not walk the project again. The listing of
draft files under the workspace roots is kept for SCAN_TTL_SECONDS or until a file changes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citewise.bib.errors import CitewiseError
from citewise.server.drafts.model import Citation, Draft
from citewise.server.drafts.project import find_root_document, load_draft
from citewise.server.drafts.suffixes import DRAFT_SUFFIXES
from citewise.server.features.open_documents import Document, OpenDocuments, Stamp, scan_draft

SKIPPED_DIRECTORIES = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", "_build", "build"}
MAX_SCANNED_FILES = 5_000
MAX_SCANNED_BYTES = 20_000_000
MAX_PROJECT_LOAD_BYTES = 2_000_000  # larger drafts: their own declarations only, no include walk
SCAN_TTL_SECONDS = 2.0


@dataclass
class DraftFile:
    """What the workspace scan keeps of one draft file on disk or open."""

    path: str
    language: str
    citations: list[Citation]
    declared_bibs: list[str]
    stamp: Stamp


class DraftCatalog:
    """Drafts under the workspace roots and open in the editor; owned by the features thread."""

    def __init__(self, roots: list[str], documents: OpenDocuments, extra_macros: Callable[[], tuple[str, ...]]):
        self.roots = roots
        self._documents = documents
        self._extra_macros = extra_macros
        self._files: dict[str, DraftFile] = {}
        self._bib_paths: dict[str, tuple[tuple, list[str]]] = {}
        self._projects: dict[str, tuple[tuple, Draft]] = {}
        self._around: dict[str, tuple[tuple, tuple, Draft]] = {}
        self._listing: tuple[float, list[str]] = (0.0, [])

    # One file ------------------------------------------------------------------------

    def citations_of(self, document: Document) -> list[Citation]:
        macros = self._extra_macros()
        if macros:
            return scan_draft(document.text, document.language, document.path, macros).citations
        return document.citations

    def draft_file(self, path: str) -> DraftFile | None:
        """Citations and declared .bib files of one draft file, cached by its stamp."""
        document = self._documents.get(path)
        stamp = self._documents.stamp(path)
        if stamp is None or (document is None and stamp[2] > MAX_SCANNED_BYTES):
            return None
        cached = self._files.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        document = document or self._documents.document(path)
        if document is None or document.language is None:
            return None
        info = DraftFile(path, document.language, self.citations_of(document),
                         _resolve_bibs(path, document.scan.bibliographies, document.language), stamp)
        self._files[path] = info
        return info

    # Projects ------------------------------------------------------------------------

    def load_project(self, path: str) -> Draft:
        """The draft `path` belongs to (its LaTeX root when it names one), open texts included.

        Drafts over MAX_PROJECT_LOAD_BYTES stand alone: no root or include walk."""
        document = self._documents.get(path)
        on_disk = os.path.isfile(path)
        size = max(os.path.getsize(path) if on_disk else 0, len(document.text) if document else 0)
        if not on_disk or size > MAX_PROJECT_LOAD_BYTES:
            return Draft(root=path, files=[path], citations=[], bib_files=[], errors=[])
        open_texts = {str(Path(p).resolve()): d.text for p, d in self._documents.drafts().items()}
        try:
            root = find_root_document(path, open_texts.get(str(Path(path).resolve())))
            return load_draft(root, open_texts=open_texts)
        except (CitewiseError, OSError, ValueError, RecursionError) as error:
            return Draft(root=path, files=[path], citations=[], bib_files=[], errors=[str(error)])

    def project(self, path: str) -> Draft:
        """`load_project(path)`, kept until one of the draft's files changes: its citations
        include those written with cite macros defined in another file of the project."""
        cached = self._projects.get(path)
        if cached is not None and all(self._documents.stamp(f) == stamp for f, stamp in cached[0]):
            return cached[1]
        draft = self.load_project(path)
        files = [os.path.abspath(f) for f in draft.files] or [path]
        self._projects[path] = (tuple((f, self._documents.stamp(f)) for f in files), draft)
        return draft

    def project_around(self, path: str) -> Draft:
        """`project(path)` for a caller that takes the open draft `path`'s own citations from its
        text: kept while the project's other files keep their stamps and `path` keeps its
        structure (`DraftScan.structure`, the root it names, its size class). What it says of
        `path`'s own citations and problems may be some keystrokes old."""
        document = self._documents.get(path)
        if document is None:
            return self.project(path)
        own = (document.scan.structure, _named_root(path, document.text), len(document.text) > MAX_PROJECT_LOAD_BYTES)
        cached = self._around.get(path)
        if cached is not None and cached[0] == own and all(self._documents.stamp(f) == stamp for f, stamp in cached[1]):
            return cached[2]
        draft = self.load_project(path)
        others = [f for f in dict.fromkeys(os.path.abspath(f) for f in draft.files) if f != path]
        self._around[path] = (own, tuple((f, self._documents.stamp(f)) for f in others), draft)
        return draft

    def cited_in_project(self, path: str) -> list[Citation]:
        """Citations of the draft file `path` and of the project it roots, macros included."""
        info = self.draft_file(path)
        return (list(info.citations) if info else []) + self.project(path).citations

    def bib_paths_for(self, path: str) -> list[str]:
        """Absolute paths of the .bib files the draft declares (or its including root declares).

        For an open draft the answer is kept while its declaration lines stay the same, so
        typing in a long draft does not re-parse it for this."""
        document = self._documents.get(path)
        if document is not None:
            if document.language is None:
                return []
            stamp: tuple = ("open", document.declaration_lines)
        else:
            info = self.draft_file(path)
            if info is None:
                return []
            stamp = info.stamp
        cached = self._bib_paths.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        info = self.draft_file(path)
        if info is None:
            return []
        paths = list(info.declared_bibs)
        paths += [os.path.abspath(p) for p in self.load_project(path).bib_files]
        if not paths:
            root = self.including_root(path)
            paths = [os.path.abspath(p) for p in self.project(root).bib_files] if root else []
        unique: dict[str, str] = {}
        for bib in paths:  # a file named twice (once through a symlink) counts once, as first named
            unique.setdefault(os.path.realpath(bib), bib)
        paths = list(unique.values())
        self._bib_paths[path] = (stamp, paths)
        return paths

    def including_root(self, path: str) -> str | None:
        """A workspace draft that declares a bibliography and includes `path`, if any."""
        for other in self.files():
            if other == path:
                continue
            info = self.draft_file(other)
            if info is None or not info.declared_bibs:
                continue
            if path in (os.path.abspath(f) for f in self.project(other).files):
                return other
        return None

    # The workspace -------------------------------------------------------------------

    def files(self) -> list[str]:
        """Draft files under the workspace roots plus every open draft (listing cached briefly)."""
        stamp, listing = self._listing
        if time.monotonic() - stamp > SCAN_TTL_SECONDS:
            listing = self._list_files()
            self._listing = (time.monotonic(), listing)
        return list(dict.fromkeys(list(self._documents.drafts()) + listing))

    def _list_files(self) -> list[str]:
        found: list[str] = []
        for root in self.roots:
            for directory, subdirectories, files in os.walk(root):
                subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES and not d.startswith(".")]
                for name in files:
                    if name.lower().endswith(DRAFT_SUFFIXES):
                        found.append(os.path.join(directory, name))
                        if len(found) >= MAX_SCANNED_FILES:
                            return found
        return found

    def files_changed(self) -> None:
        """A file was created, deleted or rewritten: list the drafts again on next use."""
        self._listing = (0.0, [])
        self._bib_paths.clear()
        self._around.clear()

    def drafts_using(self, bib_path: str) -> list[str]:
        """Workspace drafts whose .bib files include `bib_path`."""
        bib_path = os.path.abspath(bib_path)
        return [p for p in self.files() if bib_path in self.bib_paths_for(p)]

    def workspace_citations(self) -> dict[str, list[Citation]]:
        """Every citation in the workspace's drafts, by the file it is written in."""
        found: dict[str, dict[tuple[int, int], Citation]] = {}
        for path in self.files():
            for citation in self.cited_in_project(path):
                file = os.path.abspath(citation.file or path)
                found.setdefault(file, {}).setdefault((citation.line, citation.col), citation)
        return {file: list(citations.values()) for file, citations in found.items()}


def _named_root(path: str, text: str) -> str:
    """The root document a LaTeX part names in its head ("" when the name is unusable)."""
    try:
        return str(find_root_document(path, text))
    except (OSError, ValueError):
        return ""


def _resolve_bibs(path: str, names: list[str], language: str) -> list[str]:
    base = os.path.dirname(path)
    resolved = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if language == "latex" and not name.lower().endswith(".bib"):
            name += ".bib"
        resolved.append(os.path.normpath(os.path.join(base, os.path.expanduser(name))))
    return resolved
