"""What one MCP server holds: the workspace roots, a features `Workspace` over them, the index and model.

Every tool reaches drafts through `draft()`, which resolves the path inside the roots and
refuses a draft whose included files or declared .bib files lie outside them. The index
opens on first use; the embedding model (torch) loads on the first call that ranks papers,
never at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from citewise.bib.errors import CitewiseError
from citewise.server.features.settings import Settings
from citewise.server.features.workspace import Document, Workspace
from citewise.server.mcp.roots import Roots

BIB_WAIT_SECONDS = 30.0


@dataclass
class Options:
    roots: list[str]
    index_path: str | None = None
    model: str | None = None
    read_only: bool = False
    online: bool = False  # verify_references may ask the registries
    cite_command: dict[str, str] | None = None


class Session:
    def __init__(self, options: Options):
        from citewise.server.features.settings import parse_settings

        self.roots = Roots(options.roots)
        self.read_only = options.read_only
        self.online = options.online
        raw = {"indexPath": options.index_path, "model": options.model}
        if options.cite_command:
            raw["citeCommand"] = options.cite_command
        settings, warnings = parse_settings(raw, Settings())
        if warnings:
            raise CitewiseError("; ".join(warnings))
        self.ws = Workspace([str(root) for root in self.roots.paths], settings)

    def index(self):
        """The open index; CitewiseError when there is none yet."""
        index = self.ws.index
        if index is None:
            raise CitewiseError(f"{self.ws.index_path}: no index here; build one with `citewise index add`")
        return index

    def searcher(self):
        """The index searcher, hybrid once the index's own model is loaded (loads it on first use)."""
        index = self.index()
        stored_model = index.get_meta("model")
        if stored_model and self.ws.embedder is None:  # loaded as the language server loads it
            self.ws.load_model(model=self.ws.settings.model or stored_model)
        return self.ws.searcher

    def draft(self, given: str) -> Document:
        """The LaTeX or Markdown draft at `given` (inside the roots, as are its includes and .bib files)."""
        from citewise.server.drafts.project import language_of
        from citewise.server.drafts.suffixes import DRAFT_FORMATS

        path = self.roots.existing_file(given)
        if language_of(path) is None:
            raise CitewiseError(f"{given}: not a {DRAFT_FORMATS} draft")
        document = self.ws.document(str(path))
        if document is None:
            raise CitewiseError(f"{given}: cannot read")
        self.roots.check(self.ws.project_draft(document.path).files, "files the draft includes are")
        self.roots.check(self.ws.bib_paths_for(document.uri), "the draft's bibliographies are")
        self._read_bibs(document)
        return document

    def _read_bibs(self, document: Document) -> None:
        """The draft's .bib files as they are on disk now, fields parsed (features match papers by title)."""
        self.ws.bib_states_for(document.uri)
        self.ws.wait_for_reloads(BIB_WAIT_SECONDS)
        for state in self.ws.bib_states_for(document.uri):
            state.file.wait_for_fields(BIB_WAIT_SECONDS)
