"""What the language server knows, in four parts with one job each.

- `documents` (open_documents.py): the texts the editor has open; they override the disk.
- `drafts` (draft_catalog.py): the workspace's drafts, their citations and .bib files.
- `bibs` (bibliographies.py): the parsed .bib files, re-read when they change.
- `papers` (papers.py): the index, its searcher and the embedding model.

`Workspace` holds the four, the settings and the background lanes, and offers the calls
features make across parts. Who may call what from which thread: see background.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citewise.bib.index.location import display_location
from citewise.server.drafts.model import Citation, Draft
from citewise.server.drafts.uris import path_to_uri, uri_to_path
from citewise.server.features.background import Lanes
from citewise.server.features.bibliographies import Bibliographies, BibState
from citewise.server.features.draft_catalog import DraftCatalog, DraftFile
from citewise.server.features.open_documents import Document, OpenDocuments, read_text, scan_draft
from citewise.server.features.papers import Papers
from citewise.server.features.settings import Settings

if TYPE_CHECKING:
    from citewise.bib.bibtex.reader import BibFile
    from citewise.bib.index.search import Searcher
    from citewise.bib.index.store import Index

__all__ = ["BibState", "Document", "Workspace", "WorkspaceStatus", "BibStatus",
           "path_to_uri", "read_text", "scan_draft", "uri_to_path"]


@dataclass(frozen=True)
class BibStatus:
    path: str
    entries: int
    errors: int
    titles_embedded: bool = False  # its entries' title vectors are there (completion ranks by them)


@dataclass(frozen=True)
class WorkspaceStatus:
    index_path: str
    index_open: bool
    index_count: int
    model_ready: bool
    model: str
    problem: str | None
    open_documents: int
    texts_received: int
    bib_files: list[BibStatus]


class Workspace:
    def __init__(self, roots: list[str], settings: Settings | None = None, lanes: Lanes | None = None):
        self.settings = settings or Settings()
        self.lanes = lanes or Lanes()
        self.documents = OpenDocuments()
        self.drafts = DraftCatalog([uri_to_path(root) for root in roots if root], self.documents,
                                   self.extra_cite_macros)
        self.bibs = Bibliographies(self.documents, self.lanes)
        self.papers = Papers(self.settings.index_path, self.settings.model, self.lanes)

    @property
    def roots(self) -> list[str]:
        return self.drafts.roots

    def update_settings(self, settings: Settings) -> None:
        self.papers.configure(settings.index_path, settings.model)
        self.settings = settings

    def extra_cite_macros(self) -> tuple[str, ...]:
        command = self.settings.cite_command.get("latex", "\\cite")
        return (command,) if command != "\\cite" else ()

    # Documents -----------------------------------------------------------------------

    def open_document(self, uri: str, text: str, version: int | None = None) -> Document:
        document = self.documents.open(uri, text, version)
        if document.path.lower().endswith(".bib"):
            self.bibs.store(document.path, text, ("open", document.generation), from_editor=True)
        return document

    update_document = open_document

    def close_document(self, uri: str) -> None:
        self.bibs.forget_editor_copy(self.documents.close(uri))

    def document(self, uri: str) -> Document | None:
        return self.documents.document(uri)

    def versions_of(self, paths: list[str]) -> dict[str, int | None]:
        """The version of each path's open document the features hold (None: not open)."""
        return {path: document.version if (document := self.documents.get(path)) else None for path in paths}

    def file_changed(self, uri: str) -> list[str]:
        """A file changed on disk: a known .bib is re-read in the background (the old parse
        answers meanwhile; call `wait_for_reloads` to block); paths to re-diagnose."""
        path = uri_to_path(uri)
        if path.lower().endswith(".bib"):
            self.bibs.file_changed(path)
            return [path] + self.drafts_using(path)
        self.drafts.files_changed()
        return [path] if self.documents.get(path) is not None else []

    # Drafts --------------------------------------------------------------------------

    def draft_for(self, uri: str) -> Draft:
        """The draft `uri` belongs to, its citations taken from the open text; its errors are
        those of the draft's other files (the open text's own problems are its diagnostics')."""
        document = self.document(uri)
        path = uri_to_path(uri)
        if document is None:
            return Draft(root=path, files=[path], citations=[], bib_files=[], errors=[])
        draft = self.drafts.project_around(path)
        own = self.drafts.citations_of(document)
        citations = [c for c in draft.citations if os.path.abspath(c.file or path) != path] + own
        errors = [error for error in draft.errors if not error.startswith(f"{path}:")]
        return Draft(root=draft.root, files=draft.files, citations=citations,
                     bib_files=self.bib_paths_for(uri), errors=errors)

    def citations(self, uri: str) -> list[Citation]:
        """The citations in one document (open text, else disk)."""
        document = self.document(uri)
        return self.drafts.citations_of(document) if document else []

    def bib_paths_for(self, uri: str) -> list[str]:
        return self.drafts.bib_paths_for(uri_to_path(uri))

    def drafts_using(self, bib_path: str) -> list[str]:
        return self.drafts.drafts_using(bib_path)

    def draft_files(self) -> list[str]:
        return self.drafts.files()

    def draft_file(self, path: str) -> DraftFile | None:
        return self.drafts.draft_file(path)

    def project_draft(self, path: str) -> Draft:
        return self.drafts.project(path)

    def cited_in_project(self, path: str) -> list[Citation]:
        return self.drafts.cited_in_project(path)

    def including_root(self, path: str) -> str | None:
        return self.drafts.including_root(path)

    def workspace_citations(self) -> dict[str, list[Citation]]:
        return self.drafts.workspace_citations()

    # .bib files ----------------------------------------------------------------------

    def bib_states_for(self, uri: str, wait_seconds: float = 0.0) -> list[BibState]:
        """The draft's .bib files in order, each with the @strings of those before it (once
        fields are parsed: `wait_seconds` waits for each file's first parse)."""
        states: list[BibState] = []
        strings: dict[str, str] = {}
        for path in self.bib_paths_for(uri):
            state = self.bibs.state(path)
            if state is not None:
                if wait_seconds:
                    state.file.wait_for_fields(wait_seconds)
                states.append(state.with_strings(strings))
                strings.update(state.file.strings)
        return states

    def bib_state_in_bibliography(self, path: str, wait_seconds: float = 0.0) -> BibState | None:
        """The .bib at `path` as the first workspace draft that uses it reads it (with the
        @strings of the files it lists before), else on its own."""
        path = os.path.abspath(path)
        for draft in self.drafts_using(path):
            for state in self.bib_states_for(draft, wait_seconds):
                if state.file.path == path:
                    return state
        return self.bib_state(path)

    def bib_files_for(self, uri: str) -> list[BibFile]:
        return [state.file for state in self.bib_states_for(uri)]

    def bib_state(self, path: str) -> BibState | None:
        return self.bibs.state(path)

    def reload_bib(self, path: str, wait: bool = True) -> BibState | None:
        return self.bibs.reload(path, wait)

    def known_bib_paths(self) -> list[str]:
        return self.bibs.paths()

    def wait_for_reloads(self, timeout: float = 30.0) -> None:
        self.bibs.wait_for_reloads(timeout)

    # Papers --------------------------------------------------------------------------

    @property
    def index_path(self) -> Path | str:
        return self.papers.index_path

    @property
    def index(self) -> Index | None:
        return self.papers.index

    @property
    def searcher(self) -> Searcher | None:
        return self.papers.searcher

    @property
    def embedder(self) -> Any:
        return self.papers.embedder

    @property
    def model_ready(self) -> bool:
        return self.papers.model_ready

    def index_keys_like(self, key: str) -> list[str]:
        return self.papers.keys_like(key)

    def index_changed(self) -> None:
        self.papers.index_changed()

    def load_model(self, embedder: Any = None, model: str | None = None) -> None:
        self.papers.load_model(embedder, model)

    def status(self) -> WorkspaceStatus:
        index = self.index
        return WorkspaceStatus(
            index_path=display_location(self.index_path),
            index_open=index is not None,
            index_count=index.count() if index is not None else 0,
            model_ready=self.model_ready,
            model=self.papers.model_state().name,
            problem=self.papers.problem,
            open_documents=len(self.documents),
            texts_received=self.documents.texts_received,
            bib_files=[BibStatus(path, len(state.file.entries), len(state.file.errors),
                                 state.derived.get("vectors") is not None)
                       for path, state in self.bibs.states()],
        )
