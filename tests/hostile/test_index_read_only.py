"""An index in a read-only folder, or a read-only index file, can be read: stats, search, suggest, bib."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hostile_support import citewise

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _immutable(*paths: Path, on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True, capture_output=True)


@pytest.fixture(params=["folder", "file"])
def frozen_index(request, tmp_path):
    """chattr +i: even root cannot write there (file permissions would not stop root)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    folder = tmp_path / "ro"
    folder.mkdir()
    index = folder / "index.sqlite"
    result = citewise("index", "add", EXAMPLES / "library.bib", "--index", index, "--no-embed")
    assert result.returncode == 0, result.stderr
    frozen = [folder, index] if request.param == "folder" else [index]
    try:
        _immutable(*frozen, on=True)
    except subprocess.CalledProcessError:
        pytest.skip("this file system or container does not allow chattr +i")
    yield index
    _immutable(*frozen, on=False)


def test_reading_commands_work_on_a_read_only_index(frozen_index, tmp_path):
    before = frozen_index.read_bytes()
    stats = citewise("index", "stats", "--index", frozen_index)
    assert stats.returncode == 0, stats.stderr
    assert "references  5 " in stats.stdout
    search = citewise("search", "attention", "--index", frozen_index, "--json")
    assert search.returncode == 0 and "vaswani" in search.stdout.lower(), search.stderr
    draft = tmp_path / "draft.tex"
    draft.write_text("We build on transformers for sequence modelling and attention \\cite{vaswaniAttentionAllYou2017}.\n", encoding="utf-8")
    bib = citewise("bib", draft, "--index", frozen_index)
    assert bib.returncode == 0 and bib.stdout.startswith("@inproceedings{vaswaniAttentionAllYou2017,"), bib.stderr
    suggest = citewise("suggest", draft, "--index", frozen_index, "--json")
    assert suggest.returncode == 0, suggest.stderr
    assert frozen_index.read_bytes() == before
