"""citewise driven from a real editor: headless Neovim (Debian's `neovim`) and its built-in LSP client.

editors/neovim/ is loaded as the user would load it; tests/test_neovim_driver.lua types in insert
mode (nvim_input), completes with <C-x><C-o> and reads the popup menu with complete_info(), accepts
a paper with <C-y>, hovers with K, runs a `Cite:` code action with `gra`, cites with
:CitewiseSuggestions, completes a DOI typed as the key (with `verify` on; the registries answer from
recorded responses on 127.0.0.1, as in tests/test_emacs.py) and writes with :wa; these tests then read what it recorded and the files on disk.
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
DRIVER = REPO / "tests" / "test_neovim_driver.lua"
SOURCES = [REPO / "examples" / "daily-papers-digest.txt", REPO / "examples" / "library.bib"]
BIB_KEY = "hoDenoisingDiffusionProbabilistic2020"
TITLE_WORD, TITLE_KEY = "unlearning", "CorrectiveMachineUnlearning"  # only in the index; the key does not start with the word
AUTHOR, AUTHOR_KEY = "shazeer", "vaswaniAttentionAllYou2017"  # the second author of the paper
SENTENCE = "slowly injecting noise"
NEXT_SENTENCE = "Transformers trained on image patches scale diffusion models to high resolutions."
DOI, DOI_KEY = "10.1109/iccv.2007.4408927", "sinopSeededImageSegmentation2007"  # a recorded Crossref work
NVIM = shutil.which("nvim")

pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (`make system-deps` installs Debian's neovim)")


def build_index(path: Path) -> None:
    """An index of the bundled digest and library."""
    with Index.open(path) as index:
        for source in SOURCES:
            index.add_references(read_path(source).references)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    """Runs Neovim once over a copy of the fixture project; the driver's results and the paths."""
    root = tmp_path_factory.mktemp("neovim")
    project = root / "paper"
    shutil.copytree(FIXTURES, project)
    build_index(root / "index.sqlite")
    init = root / "init.lua"
    init.write_text(
        f"vim.opt.runtimepath:prepend({json.dumps(str(REPO / 'editors' / 'neovim'))})\n"
        "require('citewise').setup({\n"
        f"  cmd = {{ {json.dumps(sys.executable)}, '-m', 'citewise', 'serve' }},\n"
        f"  settings = {{ indexPath = {json.dumps(str(root / 'index.sqlite'))}, debounceMs = 100, verify = true }},\n"
        "})\n"
    )
    result = root / "result.json"
    registries = RegistryServer().start()
    env = {
        **os.environ,
        **registries.environment(),
        "CITEWISE_CACHE_DIR": str(root / "citewise-cache"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "XDG_STATE_HOME": str(root / "state"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "CITEWISE_DRAFT": str(project / "draft.tex"),
        "CITEWISE_BIB": str(project / "refs.bib"),
        "CITEWISE_RESULT": str(result),
        "CITEWISE_TITLE_WORD": TITLE_WORD,
        "CITEWISE_TITLE_KEY": TITLE_KEY,
        "CITEWISE_AUTHOR": AUTHOR,
        "CITEWISE_AUTHOR_KEY": AUTHOR_KEY,
        "CITEWISE_HOVER_KEY": BIB_KEY,
        "CITEWISE_SENTENCE": SENTENCE,
        "CITEWISE_NEXT_SENTENCE": NEXT_SENTENCE,
        "CITEWISE_DOI": DOI,
        "CITEWISE_DOI_KEY": DOI_KEY,
    }
    try:
        run = subprocess.run(
            [NVIM, "--headless", "--clean", "-u", str(init), "-c", f"luafile {DRIVER}"],
            env=env, capture_output=True, text=True, timeout=240, cwd=project,
        )
    finally:
        registries.stop()
    assert result.exists(), f"Neovim wrote no result (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    results = json.loads(result.read_text())
    assert results["error"] is None, f"{results['error']} after steps {results['steps']}\n{json.dumps(results, indent=1)}"
    return {"results": results, "project": project}


def test_the_setup_attaches_to_latex_with_omnifunc_set_before_the_server_runs(session):
    results = session["results"]
    assert results["filetype"] in ("tex", "plaintex")
    assert results["steps"][0] == "initialized"
    assert results["attached_before_omnifunc"] is False
    assert results["omnifunc_before_attach"] == "v:lua.require'citewise'.omnifunc"
    assert results["omnifunc"] == "v:lua.require'citewise'.omnifunc"


def test_a_coauthors_family_name_lists_the_paper_first_in_the_menu(session):
    assert session["results"]["author_menu"][0] == AUTHOR_KEY


def test_a_title_word_lists_an_index_paper_whose_key_does_not_start_with_it(session):
    menu = session["results"]["title_menu"]
    assert menu[0] == TITLE_KEY, menu


def test_accepting_an_index_paper_cites_it_and_adds_its_entry_to_the_bib_on_disk(session):
    results, project = session["results"], session["project"]
    assert results["completed_line"] == f"Forgetting data \\cite{{{TITLE_KEY}}}."
    assert results["draft_unwritten_after_completion"] is True, "the setup wrote the draft for the user"
    assert f"\\cite{{{TITLE_KEY}}}." in (project / "draft.tex").read_text()
    bib = (project / "refs.bib").read_text()
    assert len(re.findall(r"@\w+\{" + TITLE_KEY + ",", bib)) == 1
    assert f"@inproceedings{{{BIB_KEY}," in bib, "the existing entry was lost"


def test_a_doi_typed_as_the_key_offers_its_entry_which_cites_it_and_reaches_the_bib(session):
    results, project = session["results"], session["project"]
    assert results["steps"][-1] == "identifier"
    assert results["doi_menu"][0] == DOI_KEY, results["doi_menu"]
    assert results["doi_line"] == f"Segmentation \\cite{{{DOI_KEY}}}.", "the DOI was not replaced by the key"
    assert results["draft_unwritten_after_identifier"] is True, "the setup wrote the draft for the user"
    assert f"\\cite{{{DOI_KEY}}}." in (project / "draft.tex").read_text()
    bib = (project / "refs.bib").read_text()
    assert len(re.findall(r"@inproceedings\{" + DOI_KEY + ",", bib)) == 1
    assert "Seeded Image Segmentation" in bib
    assert f"@inproceedings{{{BIB_KEY}," in bib, "the existing entry was lost"


def test_k_shows_the_reference_in_a_floating_window(session):
    assert session["results"]["k_mapping"] == "citewise: hover"
    assert "Denoising Diffusion Probabilistic Models" in session["results"]["hover"]


def test_suggestions_notification_reaches_the_handler(session):
    suggestions = session["results"]["suggestions"]
    assert suggestions, "citewise/suggestions carried no papers"
    assert all(item["key"] != BIB_KEY for item in suggestions), "a paper already cited there was suggested"


def test_code_action_cites_in_the_draft_and_adds_the_entry_to_the_bib(session):
    results, project = session["results"], session["project"]
    assert results["chosen_action"].startswith("Cite: ")
    assert results["draft_unwritten_after_cite"] is True, "the setup wrote the draft for the user"
    draft = (project / "draft.tex").read_text()
    sentence = next(line for line in draft.splitlines() if SENTENCE in line)
    new_keys = {key.strip() for keys in re.findall(r"\\cite\{([^}]*)\}", sentence) for key in keys.split(",")}
    assert new_keys, f"the sentence was not cited in the saved draft:\n{draft}"
    bib = (project / "refs.bib").read_text()
    for key in new_keys:
        assert re.search(r"@\w+\{" + re.escape(key) + ",", bib), f"{key} is cited but not in refs.bib"
    assert f"@inproceedings{{{BIB_KEY}," in bib, "the existing entry was lost"


def test_citewise_suggestions_command_cites_the_picked_paper(session):
    results, project = session["results"], session["project"]
    assert "picked" in results["steps"]
    key = results["picked"]["key"]
    assert results["draft_unwritten_after_pick"] is True, "the setup wrote the draft for the user"
    line = next(line for line in (project / "draft.tex").read_text().splitlines() if line.startswith(NEXT_SENTENCE[:20]))
    assert key in line
    assert re.search(r"@\w+\{" + re.escape(key) + ",", (project / "refs.bib").read_text())
