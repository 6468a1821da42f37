"""`index add` with bad sources among good ones: deep CSL-JSON, unbalanced .bib entries; one bad file never stops the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_support import assert_no_traceback, citewise


def keys_in(index: Path) -> list[str]:
    result = citewise("bib", "--all", "--index", index)
    assert result.returncode == 0, result.stderr
    return [line.split("{", 1)[1].rstrip(",") for line in result.stdout.splitlines() if line.startswith("@")]


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    good = [{"id": "good2020", "type": "article-journal", "title": "A good paper", "author": [{"family": "Good", "given": "A."}],
             "issued": {"date-parts": [[2020]]}}]
    (root / "a-good.json").write_text(json.dumps(good), encoding="utf-8")
    deep_value = "[" * 500 + "]" * 500
    (root / "b-deep-value.json").write_text(
        '[{"id": "deep2021", "type": "article", "title": "Deep note", "note": ' + deep_value + ', "keyword": '
        + deep_value.replace("[]", '["x"]') + "}]", encoding="utf-8")
    (root / "c-deeper.json").write_text(
        '[\n{"id": "ok2022", "type": "book", "title": "Fine"},\n{"id": "x", "type": "article", "title": '
        + '{"a": ' * 20000 + "1" + "}" * 20000 + "}]", encoding="utf-8")
    (root / "d-later.bib").write_text("@misc{later2023, title = {Read after the bad files}}\n", encoding="utf-8")
    return root


def test_deep_json_never_stops_a_folder(folder, tmp_path):
    index = tmp_path / "index.sqlite"
    result = citewise("index", "add", folder, "--index", index, "--no-embed")
    assert_no_traceback(result)
    assert "RecursionError" not in result.stderr
    assert f"{folder / 'c-deeper.json'}:3: malformed JSON: nested too deeply to read" in result.stderr
    assert result.returncode == 1 and "added 3," in result.stdout and "failed 1" in result.stdout
    assert sorted(keys_in(index)) == ["deep2021", "good2020", "later2023"]


def test_an_unbalanced_entry_is_reported_and_skipped(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{first, title = {First}, year = 2020}\n\n"
                   "@article{broken, title = {Never closed, year = 2020,\n  journal = {J}\n\n"
                   "@article{second, title = {Second}, year = 2021}\n"
                   "@misc{third, title = \"Third\"}\n", encoding="utf-8")
    index = tmp_path / "index.sqlite"
    result = citewise("index", "add", bib, "--index", index, "--no-embed")
    assert_no_traceback(result)
    assert f"{bib}:3: @article is not closed" in result.stderr
    assert result.returncode == 1 and "added 3, updated 0, skipped 0, failed 1" in result.stdout
    assert sorted(keys_in(index)) == ["first", "second", "third"]
    assert "Never closed" not in citewise("bib", "--all", "--index", index).stdout
