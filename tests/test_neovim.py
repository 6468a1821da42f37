"""citewise driven from a real editor: headless Neovim (Debian's `neovim`) and its built-in LSP client.

editors/neovim/ is loaded as the user would load it; tests/test_neovim_driver.lua opens a LaTeX draft,
completes inside `\\cite{`, hovers a key, waits for `citewise/suggestions`, applies a suggestion's code
action and saves; these tests then read the JSON it wrote and the files on disk.
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
DRIVER = REPO / "tests" / "test_neovim_driver.lua"
DIGEST = REPO / "examples" / "daily-papers-digest.txt"
BIB_KEY = "hoDenoisingDiffusionProbabilistic2020"
SENTENCE = "slowly injecting noise"
NEXT_SENTENCE = "Transformers trained on image patches scale diffusion models to high resolutions."
NVIM = shutil.which("nvim")

pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (`make system-deps` installs Debian's neovim)")


def build_index(path: Path) -> dict[str, str]:
    """An index of the bundled digest; returns title -> key."""
    with Index.open(path) as index:
        index.add_references(read_path(DIGEST).references)
        return {ref.title: ref.key for ref in index.iter_references()}


def key_of(titles: dict[str, str], start: str) -> str:
    return next(key for title, key in titles.items() if title.startswith(start))


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    """Runs Neovim once over a copy of the fixture project; the driver's results and the paths."""
    root = tmp_path_factory.mktemp("neovim")
    project = root / "paper"
    shutil.copytree(FIXTURES, project)
    titles = build_index(root / "index.sqlite")
    init = root / "init.lua"
    init.write_text(
        f"vim.opt.runtimepath:prepend({json.dumps(str(REPO / 'editors' / 'neovim'))})\n"
        "require('citewise').setup({\n"
        f"  cmd = {{ {json.dumps(sys.executable)}, '-m', 'citewise', 'serve' }},\n"
        f"  settings = {{ indexPath = {json.dumps(str(root / 'index.sqlite'))}, debounceMs = 100 }},\n"
        "})\n"
    )
    result = root / "result.json"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "XDG_STATE_HOME": str(root / "state"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "CITEWISE_DRAFT": str(project / "draft.tex"),
        "CITEWISE_BIB": str(project / "refs.bib"),
        "CITEWISE_RESULT": str(result),
        "CITEWISE_TYPED_KEY": "score",
        "CITEWISE_INDEX_KEY": key_of(titles, "Corrective Machine Unlearning"),
        "CITEWISE_HOVER_KEY": BIB_KEY,
        "CITEWISE_SENTENCE": SENTENCE,
        "CITEWISE_NEXT_SENTENCE": NEXT_SENTENCE,
    }
    run = subprocess.run(
        [NVIM, "--headless", "--clean", "-u", str(init), "-c", f"luafile {DRIVER}"],
        env=env, capture_output=True, text=True, timeout=240, cwd=project,
    )
    assert result.exists(), f"Neovim wrote no result (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    results = json.loads(result.read_text())
    assert results["error"] is None, f"{results['error']} after steps {results['steps']}"
    return {"results": results, "project": project, "titles": titles}


def test_the_setup_attaches_to_latex(session):
    assert session["results"]["filetype"] in ("tex", "plaintex")
    assert session["results"]["steps"][0] == "initialized"
    assert session["results"]["omnifunc"] == "v:lua.vim.lsp.omnifunc"


def test_completion_offers_the_bib_entry_inside_cite(session):
    assert BIB_KEY in session["results"]["bib_completion"]


def test_completion_finds_an_index_paper_by_typed_word(session):
    expected = key_of(session["titles"], "Score-Based Generative Modeling through Stochastic")
    assert expected in session["results"]["index_completion"]


def test_choosing_an_index_paper_with_omnifunc_adds_its_entry_to_the_bib(session):
    key = key_of(session["titles"], "Corrective Machine Unlearning")
    assert f"\\cite{{{key}}}" in session["results"]["omnifunc_line"]
    assert re.search(r"@\w+\{" + re.escape(key) + ",", (session["project"] / "refs.bib").read_text())


def test_hover_shows_the_reference(session):
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
    assert results["steps"][-1] == "picked"
    key = results["picked"]["key"]
    assert results["draft_unwritten_after_pick"] is True, "the setup wrote the draft for the user"
    line = next(line for line in (project / "draft.tex").read_text().splitlines() if line.startswith(NEXT_SENTENCE[:20]))
    assert key in line
    assert re.search(r"@\w+\{" + re.escape(key) + ",", (project / "refs.bib").read_text())
