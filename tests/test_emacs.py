"""citewise driven from Emacs through eglot (Debian's emacs-nox + elpa-eglot), in batch mode.

tests/test_emacs_driver.el loads editors/emacs/citewise.el as a user would, opens a LaTeX draft,
completes inside `\\cite{`, hovers a key, waits for `citewise/suggestions` and cites the first
suggestion with `citewise-cite`; these tests read what it recorded and the files it saved.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citewise.bib.index.store import Index
from citewise.bib.readers import read_path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "editors"
DRIVER = REPO / "tests" / "test_emacs_driver.el"
DIGEST = REPO / "examples" / "daily-papers-digest.txt"
BIB_KEY = "hoDenoisingDiffusionProbabilistic2020"
SENTENCE = "slowly injecting noise"
EMACS = shutil.which("emacs")
EGLOT = Path("/usr/share/emacs/site-lisp/elpa")

pytestmark = pytest.mark.skipif(
    EMACS is None or not any(EGLOT.glob("eglot-*")),
    reason="emacs with eglot is not installed (Debian: apt-get install emacs-nox elpa-eglot)",
)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("emacs")
    project = root / "paper"
    shutil.copytree(FIXTURES, project)
    with Index.open(root / "index.sqlite") as index:
        index.add_references(read_path(DIGEST).references)
        titles = {ref.title: ref.key for ref in index.iter_references()}
    result = root / "result.json"
    env = {
        **os.environ,
        "HOME": str(root),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CITEWISE_EMACS_DIR": str(REPO / "editors" / "emacs"),
        "CITEWISE_PYTHON": sys.executable,
        "CITEWISE_INDEX": str(root / "index.sqlite"),
        "CITEWISE_DRAFT": str(project / "draft.tex"),
        "CITEWISE_SENTENCE": SENTENCE,
        "CITEWISE_HOVER_KEY": BIB_KEY,
        "CITEWISE_RESULT": str(result),
    }
    run = subprocess.run(
        [EMACS, "--batch", "-Q", "-l", str(DRIVER)],
        env=env, capture_output=True, text=True, timeout=240, cwd=project, stdin=subprocess.DEVNULL,
    )
    assert result.exists(), f"Emacs wrote no result (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    results = json.loads(result.read_text())
    assert "error" not in results, f"{results['error']}\n{run.stderr[-3000:]}"
    return {"results": results, "project": project, "titles": titles}


def test_eglot_starts_citewise_for_latex(session):
    assert session["results"]["mode"] in ("latex-mode", "LaTeX-mode", "tex-mode")
    assert session["results"]["connected"] is True
    assert session["results"]["saved"] is True


def test_completion_at_point_offers_bib_and_index_papers(session):
    labels = session["results"]["completion"]
    score_key = next(key for title, key in session["titles"].items() if title.startswith("Score-Based Generative"))
    assert score_key in labels


def test_hover_shows_the_reference(session):
    assert "Denoising Diffusion Probabilistic Models" in session["results"]["hover"]


def test_citing_a_suggestion_edits_the_draft_and_the_bib_on_disk(session):
    key, project = session["results"]["cited"], session["project"]
    assert session["results"]["bib-on-disk-before-saving"], "citewise-cite left the .bib entry unsaved"
    assert session["results"]["draft-unsaved-after-cite"] is True, "citewise-cite saved the draft for the user"
    sentence = next(line for line in (project / "draft.tex").read_text().splitlines() if SENTENCE in line)
    assert key in sentence
    bib = (project / "refs.bib").read_text()
    assert re.search(r"@\w+\{" + re.escape(key) + ",", bib)
    assert f"@inproceedings{{{BIB_KEY}," in bib
