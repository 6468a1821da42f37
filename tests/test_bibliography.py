"""A bibliography is all its files together: @strings of one .bib serve the .bib files after it,
in `citewise index add`, `citewise bib` and the language server alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citewise.bib.bibtex.bibliography import read_bibliography
from citewise.bib.bibtex.reader import read_bib_file
from citewise.bib.errors import UndefinedString

CITEWISE = [sys.executable, "-m", "citewise"]

# Our own small pair in the shape of IEEEabrv.bib (journal-name strings) and a paper's refs.bib.
ABBREV = """% Journal names, short form
@STRING{IEEE_J_PAMI = "{IEEE} Trans. Pattern Anal. Mach. Intell."}
@STRING{IEEE_J_SP   = "{IEEE} Trans. Signal Process."}
@string{lab = "Vision Lab"}
"""
REFS = """@article{smith2020fast,
  author = {Smith, Ann and Jones, Bo},
  title = {Fast Sampling of Diffusion Models},
  journal = IEEE_J_PAMI,
  year = 2020
}

@article{lee2021signals,
  author = {Lee, Chris},
  title = {Signals on Graphs},
  journal = IEEE_J_SP # " (special issue)",
  note = lab,
  year = 2021
}

@article{kim2022typo,
  author = {Kim, Dana},
  title = {A Paper Whose Journal String Has a Typo},
  journal = IEEE_J_PAMMI,
  year = 2022
}
"""


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    abbrev, refs = tmp_path / "abbrev.bib", tmp_path / "refs.bib"
    abbrev.write_text(ABBREV, encoding="utf-8")
    refs.write_text(REFS, encoding="utf-8")
    return abbrev, refs


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CITEWISE, *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_strings_of_an_earlier_file_serve_the_later_one(pair):
    (abbrev, refs), unreadable = read_bibliography([str(path) for path in pair])
    assert not unreadable
    assert refs.entry("smith2020fast").fields["journal"] == "{IEEE} Trans. Pattern Anal. Mach. Intell."
    assert refs.entry("lee2021signals").fields["journal"] == "{IEEE} Trans. Signal Process. (special issue)"
    assert refs.entry("lee2021signals").fields["note"] == "Vision Lab"
    undefined = [error for error in refs.errors if isinstance(error, UndefinedString)]
    assert [(error.key, error.name, error.line) for error in undefined] == [("kim2022typo", "ieee_j_pammi", 16)]
    assert all(error.warning for error in undefined)
    assert refs.entry("kim2022typo") is not None


def test_order_matters_as_in_bibtex(pair):
    abbrev, refs = pair
    (first, _), _ = read_bibliography([str(refs), str(abbrev)])
    assert {error.key for error in first.errors if isinstance(error, UndefinedString)} == {
        "smith2020fast", "lee2021signals", "kim2022typo"}
    alone = read_bib_file(refs)
    assert len([error for error in alone.errors if isinstance(error, UndefinedString)]) == 4


def test_index_add_resolves_strings_across_its_files_and_warns_only_for_the_undefined(pair, tmp_path):
    abbrev, refs = pair
    index = str(tmp_path / "index.sqlite")
    result = run("index", "add", str(abbrev), str(refs), "--index", index, "--no-embed")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "added 3, updated 0, skipped 0, failed 0, warnings 1; embedded 0"
    assert result.stderr.strip().splitlines() == [f"{refs}:16: entry 'kim2022typo' uses undefined @string 'ieee_j_pammi'"]
    search = run("search", "Fast Sampling of Diffusion Models", "-k", "1", "--json", "--index", index)
    assert search.returncode == 0, search.stderr
    (hit,) = json.loads(search.stdout)
    assert hit["key"] == "smith2020fast"


def test_citewise_bib_brings_the_strings_from_the_earlier_file(pair, tmp_path):
    draft = tmp_path / "paper.tex"
    draft.write_text("\\documentclass{article}\n\\begin{document}\nAs shown~\\cite{smith2020fast,lee2021signals}.\n"
                     "\\bibliography{abbrev,refs}\n\\end{document}\n", encoding="utf-8")
    out = tmp_path / "out.bib"
    result = run("bib", str(draft), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert '@STRING{IEEE_J_PAMI = "{IEEE} Trans. Pattern Anal. Mach. Intell."}' in text
    assert "@STRING{IEEE_J_SP" in text and '@string{lab = "Vision Lab"}' in text
    assert "uses undefined" not in result.stderr
    written = read_bib_file(out)
    assert not [error for error in written.errors if isinstance(error, UndefinedString)]


def test_citewise_bib_warns_for_a_truly_undefined_string(pair, tmp_path):
    draft = tmp_path / "paper.tex"
    draft.write_text("\\cite{kim2022typo}\n\\bibliography{abbrev,refs}\n", encoding="utf-8")
    result = run("bib", str(draft), "-o", str(tmp_path / "out.bib"))
    assert result.returncode == 0, result.stderr
    assert "entry 'kim2022typo' uses undefined @string 'ieee_j_pammi'" in result.stderr


# --- the language server's features ---------------------------------------------------------------


@pytest.fixture
def thesis(pair, tmp_path):
    from citewise.server.features.settings import Settings
    from citewise.server.features.workspace import Workspace

    draft = tmp_path / "paper.tex"
    draft.write_text("\\documentclass{article}\n\\begin{document}\nAs shown~\\cite{smith2020fast}.\n"
                     "\\bibliography{abbrev,refs}\n\\end{document}\n", encoding="utf-8")
    return Workspace([str(tmp_path)], Settings(index_path=str(tmp_path / "none.sqlite"))), draft


def test_bib_diagnostics_flag_only_the_truly_undefined_string(thesis, pair):
    from features_support import open_file

    from citewise.server.features.diagnostics import diagnostics

    ws, draft = thesis
    open_file(ws, draft)
    refs_uri = open_file(ws, pair[1])
    messages = [problem.message for problem in diagnostics(ws, refs_uri) if "@string" in problem.message]
    assert messages == ["entry 'kim2022typo' uses undefined @string 'ieee_j_pammi'"]


def test_hover_shows_the_journal_an_earlier_file_spells_out(thesis):
    from features_support import open_file, position_of

    from citewise.server.features import hover

    ws, draft = thesis
    uri = open_file(ws, draft)
    info = hover.hover(ws, uri, position_of(draft.read_text(encoding="utf-8"), "smith2020fast", 3))
    assert "IEEE Trans. Pattern Anal. Mach. Intell." in info.markdown
