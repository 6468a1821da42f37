"""Shared helpers for the language-server feature tests: a workspace on disk, a real index, edits."""

from __future__ import annotations

import shutil
from pathlib import Path

from citewise.bib.index.embed import embed_pending
from citewise.bib.index.store import Index
from citewise.bib.readers import read_path
from citewise.server.drafts.uris import path_to_uri
from citewise.server.features.positions import LspLineIndex, TextEdit
from citewise.server.features.settings import Settings
from citewise.server.features.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "features"
DIGEST = REPO / "examples" / "daily-papers-digest.txt"

PAPER_TEX = r"""\documentclass{article}
\begin{document}
Transformers replaced recurrence with self-attention \cite{vaswaniAttentionAllYou2017}.
Diffusion models generate images by reversing a gradual noising process \cite{hoDenoisingDiffusionProbabilistic2020, missingKey2020}.
Residual connections let very deep networks train 𝒜 \cite{heDeepResidualLearning2016}.
Image generation with diffusion models reverses a stochastic noising process step by step.
\bibliography{refs}
\end{document}
"""

NOTES_MD = """---
title: Notes
bibliography: refs.bib
---

Language models are pre-trained on large corpora [@devlinBERTPretrainingDeep2019].
Attention is central to modern architectures [@vaswaniAttentionAllYou2017; @heDeepResidualLearning2016].
"""


def build_index(path: Path, embedder=None) -> Path:
    """A real SQLite index of the example digest (75 papers), embedded when given a model."""
    with Index.open(path) as index:
        index.add_references(read_path(DIGEST).references)
        if embedder is not None:
            embed_pending(index, embedder)
    return path


def make_workspace(root: Path, index_path: Path | None, **settings) -> Workspace:
    """paper.tex, notes.md and refs.bib in `root`, opened as a workspace."""
    shutil.copy(FIXTURES / "refs.bib", root / "refs.bib")
    (root / "paper.tex").write_text(PAPER_TEX, encoding="utf-8")
    (root / "notes.md").write_text(NOTES_MD, encoding="utf-8")
    return Workspace([str(root)], Settings(index_path=str(index_path) if index_path else str(root / "none.sqlite"),
                                           **settings))


def open_file(ws: Workspace, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path_to_uri(str(path))
    ws.open_document(uri, path.read_text(encoding="utf-8") if text is None else text, version)
    return uri


def apply(text: str, edits: list[TextEdit]) -> str:
    """Apply LSP-style edits (all relative to the original text), as an editor does."""
    lines = LspLineIndex(text)
    spans = sorted(((lines.offset_of(e.range.start), lines.offset_of(e.range.end), e.new_text) for e in edits),
                   key=lambda span: span[0], reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def apply_to_files(edits: dict[str, list[TextEdit]]) -> None:
    for path, file_edits in edits.items():
        target = Path(path)
        original = target.read_text(encoding="utf-8") if target.exists() else ""
        target.write_text(apply(original, file_edits), encoding="utf-8")


def position_of(text: str, needle: str, after: int = 0):
    """The LSP position `after` characters past the start of `needle` in `text`."""
    lines = LspLineIndex(text)
    return lines.position_of(text.index(needle) + after)
