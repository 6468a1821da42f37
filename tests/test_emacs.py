"""citewise driven from Emacs through eglot (Debian's emacs-nox + elpa-eglot), in batch mode.

tests/test_emacs_driver.el loads editors/emacs/citewise.el as its README says, opens a LaTeX draft,
types `\\cite{` and an author or a title word, presses TAB (completion-at-point), reads
*Completions*, goes there with `C-x o` and accepts a paper with RET; it types a DOI as a key and
presses TAB (the registries, on 127.0.0.1, resolve it); it hovers a key, waits for
`citewise/suggestions`, cites the first suggestion with `citewise-cite` and saves with `C-x s`.
These tests read what it recorded and the files on disk.
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
from registry_server import RegistryServer

from citewise.bib.index.store import Index
from citewise.bib.readers import read_path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "editors"
DRIVER = REPO / "tests" / "test_emacs_driver.el"
SOURCES = [REPO / "examples" / "daily-papers-digest.txt", REPO / "examples" / "library.bib"]
TITLE_WORD, TITLE_KEY = "unlearning", "CorrectiveMachineUnlearning"  # only in the index
AUTHOR, AUTHOR_KEY = "shazeer", "vaswaniAttentionAllYou2017"  # the second author of the paper
BIB_KEY = "hoDenoisingDiffusionProbabilistic2020"
SENTENCE = "slowly injecting noise"
DOI, DOI_KEY = "10.1109/iccv.2007.4408927", "sinopSeededImageSegmentation2007"  # a recorded Crossref work
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
        for source in SOURCES:
            index.add_references(read_path(source).references)
    result = root / "result.json"
    registries = RegistryServer().start()
    env = {
        **os.environ,
        **registries.environment(),
        "CITEWISE_CACHE_DIR": str(root / "cache"),
        "CITEWISE_DOI": DOI,
        "CITEWISE_DOI_KEY": DOI_KEY,
        "HOME": str(root),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CITEWISE_EMACS_DIR": str(REPO / "editors" / "emacs"),
        "CITEWISE_PYTHON": sys.executable,
        "CITEWISE_INDEX": str(root / "index.sqlite"),
        "CITEWISE_DRAFT": str(project / "draft.tex"),
        "CITEWISE_SENTENCE": SENTENCE,
        "CITEWISE_TITLE_WORD": TITLE_WORD,
        "CITEWISE_TITLE_KEY": TITLE_KEY,
        "CITEWISE_AUTHOR": AUTHOR,
        "CITEWISE_HOVER_KEY": BIB_KEY,
        "CITEWISE_RESULT": str(result),
    }
    try:
        run = subprocess.run(
            [EMACS, "--batch", "-Q", "-l", str(DRIVER)],
            env=env, capture_output=True, text=True, timeout=240, cwd=project, stdin=subprocess.DEVNULL,
        )
    finally:
        registries.stop()
    assert result.exists(), f"Emacs wrote no result (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    results = json.loads(result.read_text())
    events = results.pop("events", "")
    assert "error" not in results, f"{results['error']}\n{json.dumps(results, indent=1)}\n{events}\n{run.stderr[-3000:]}"
    return {"results": results, "project": project}


def test_eglot_starts_citewise_for_latex(session):
    assert session["results"]["mode"] in ("latex-mode", "LaTeX-mode", "tex-mode")
    assert session["results"]["connected"] is True
    assert session["results"]["saved"] is True


def test_an_authors_family_name_completes_the_only_paper_in_place(session):
    assert session["results"]["author-menu"] is None
    assert session["results"]["author-line"] == f"Transformers \\cite{{{AUTHOR_KEY}"


def test_a_title_word_lists_an_index_paper_first_without_an_internal_error(session):
    assert session["results"]["title-menu"][0] == TITLE_KEY


def test_accepting_the_paper_in_completions_cites_it_and_saves_its_bib_entry(session):
    results, project = session["results"], session["project"]
    assert results["server-class"] == "citewise-eglot-server"
    assert results["in-completions"] is True and results["back-in-draft"] is True
    assert results["completed-line"] == f"Forgetting data \\cite{{{TITLE_KEY}}}."
    assert results["draft-unsaved-after-completion"] is True, "the draft was saved for the user"
    assert f"\\cite{{{TITLE_KEY}}}." in (project / "draft.tex").read_text()
    bib = (project / "refs.bib").read_text()
    assert len(re.findall(r"@\w+\{" + TITLE_KEY + ",", bib)) == 1
    assert f"@inproceedings{{{BIB_KEY}," in bib


def test_a_doi_typed_as_the_key_completes_to_its_entry_which_reaches_the_bib(session):
    results, project = session["results"], session["project"]
    assert results["doi-menu"] is None, "TAB should complete the only item holding the DOI in place"
    assert results["doi-line"] == f"Segmentation \\cite{{{DOI_KEY}}}."
    bib = (project / "refs.bib").read_text()
    assert len(re.findall(r"@inproceedings\{" + DOI_KEY + ",", bib)) == 1
    assert "Seeded Image Segmentation" in bib


def test_choosing_nothing_in_cite_suggestion_changes_nothing(session):
    assert session["results"]["unchanged-after-empty-choice"] is True


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
