"""Cite-check in the editor: a citation whose paper fits its sentence far worse than the draft's
other citations (`weak-fit`, features/cite_check.py) becomes an Information diagnostic on the key,
and "Cite X instead" its quick fix.

It runs with the `verify` setting, once the suggestion model is loaded (it never loads the model
itself). The work is split so the features thread never embeds (features/background.py): `fit_job`
(features thread) takes the citations of the open text and the draft's .bib references when either
changed since the last judgement; `run_fit_job` (`embed` lane) embeds and judges them, keeping
embeddings by text so an edit embeds only what it changed; `fit_problems` (features thread) puts the
stored findings on the keys as they stand in the current text.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from citewise.bib.model import Reference
from citewise.server.features.actions import Action
from citewise.server.features.cite_check import citation_sites, judge, score_sites
from citewise.server.features.diagnostics import Problem
from citewise.server.features.positions import TextEdit
from citewise.server.features.workspace import Document, Workspace, read_text

CODE = "verify-weak-fit"
MAX_VECTORS = 50_000  # embeddings kept per workspace (about 75 MB at 384 dimensions)


@dataclass
class FitJob:
    uri: str
    fingerprint: tuple
    sites: list
    cited: dict[str, Reference]
    embedder: Any


@dataclass(frozen=True)
class WeakFit:
    line: int
    key: str
    detail: str
    better_key: str


class _Fits:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.judged: dict[str, tuple[tuple, list[WeakFit]]] = {}  # uri -> (fingerprint, weak fits)
        self.vectors: dict[tuple[str, str], np.ndarray] = {}  # used on the embed lane only


_FITS: weakref.WeakKeyDictionary[Workspace, _Fits] = weakref.WeakKeyDictionary()
_FITS_LOCK = threading.Lock()


def _fits(ws: Workspace) -> _Fits:
    with _FITS_LOCK:
        return _FITS.setdefault(ws, _Fits())


def fit_job(ws: Workspace, uri: str) -> FitJob | None:
    """What to judge for `uri`, or None (verify off, no model yet, a .bib, nothing changed)."""
    document = ws.document(uri)
    embedder = ws.embedder
    if document is None or document.language is None or embedder is None or not ws.settings.verify:
        return None
    states = ws.bib_states_for(uri)
    fingerprint = (document.text, tuple((state.file.path, state.version) for state in states))
    fits = _fits(ws)
    with fits.lock:
        judged = fits.judged.get(uri)
    if judged is not None and judged[0] == fingerprint:
        return None
    cited: dict[str, Reference] = {}
    for state in states:
        for key, ref in state.references.items():
            cited.setdefault(key, ref)
    draft = SimpleNamespace(citations=ws.citations(uri))
    sites = [site for site in citation_sites(draft, lambda path: _text_of(ws, document, path)) if site.file == document.path]
    return FitJob(uri, fingerprint, sites, cited, embedder)


def _text_of(ws: Workspace, document: Document, path: str) -> str:
    return document.text if path == document.path else (read_text(path) or "")


def run_fit_job(ws: Workspace, job: FitJob) -> bool:
    """Judge the job's citations (on the `embed` lane) and keep the weak fits; whether they changed."""
    fits = _fits(ws)
    if len(fits.vectors) > MAX_VECTORS:
        fits.vectors = {}
    scores = score_sites(job.sites, job.cited, list(job.cited.values()), job.embedder, fits.vectors)
    judged, median = judge(scores)
    weak = [WeakFit(fit.site.line, fit.site.key, fit.detail(median), fit.better_key) for fit in judged if fit.flagged]
    with fits.lock:
        before = fits.judged.get(job.uri)
        fits.judged[job.uri] = (job.fingerprint, weak)
    return before is None or before[1] != weak


def fit_problems(ws: Workspace, uri: str) -> list[Problem]:
    """An Information problem on each weakly fitting key still cited where it was judged."""
    document = ws.document(uri)
    if document is None or not ws.settings.verify:
        return []
    fits = _fits(ws)
    with fits.lock:
        judged = fits.judged.get(uri)
    if not judged or not judged[1]:
        return []
    weak = {(fit.line, fit.key): fit for fit in judged[1]}
    problems = []
    for citation in ws.citations(uri):
        for use in citation.keys:
            fit = weak.get((citation.line, use.key))
            if fit is None:
                continue
            fix = {"title": f"Cite {fit.better_key} instead", "replace": fit.key, "with": fit.better_key}
            problems.append(Problem(document.lines.lsp_range(use.line, use.col, use.line, use.end_col), "info",
                                    f"{fit.key}: weak-fit: {fit.detail}", CODE, {"key": fit.key, "fix": fix}))
    return problems


def quick_fixes(document: Document, problems: list[Problem]) -> list[Action]:
    """"Cite X instead" for each weak-fit problem: the better-fitting key in place of the cited one."""
    actions = []
    for problem in problems:
        fix = problem.data.get("fix") if problem.code == CODE else None
        if fix and fix.get("with"):
            actions.append(Action(fix["title"], "quickfix", {document.path: [TextEdit(problem.range, fix["with"])]}))
    return actions
