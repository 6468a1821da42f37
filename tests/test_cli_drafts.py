"""`citewise cites` and `citewise bib` as users run them: exit codes, output, files written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citewise.bib.index.store import Index
from citewise.bib.model import Reference
from citewise.server.cli import main
from citewise.server.drafts.suffixes import DRAFT_FORMATS

FIXTURES = Path(__file__).parent / "fixtures" / "drafts"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def no_default_index(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_INDEX", str(tmp_path / "no-index-here.sqlite"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "paper"
    (root / ".git").mkdir(parents=True)
    (root / "refs.bib").write_text("@misc{known, title = {Known}}\n@misc{other, title = {Other}}\n", encoding="utf-8")
    (root / "main.tex").write_text("Text \\citep[p.~2]{known, unknown}.\n\\bibliography{refs}\n", encoding="utf-8")
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cites_json_records_are_one_based(capsys):
    code, out, err = run(capsys, "cites", FIXTURES / "jabref" / "nested.tex", "--json")
    records = json.loads(out)
    assert code == 0 and err == ""
    assert records[0] == {"file": os.path.relpath(FIXTURES / "jabref" / "paper.tex"), "line": 4, "column": 1,
                          "command": "\\cite", "keys": ["Einstein1920"]}
    assert len(records) == 4


def test_cites_text_lists_several_drafts(capsys):
    code, out, _ = run(capsys, "cites", FIXTURES / "quarto" / "craft-research-blogs.qmd", EXAMPLES / "draft.tex")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].endswith("craft-research-blogs.qmd:79:62\t@\tzinsser2006writing")
    assert lines[-1].endswith("draft.tex:21:1\t\\citep\tzhengDPMSolverv3ImprovedDiffusion2023")


def test_bib_for_a_quarto_book_uses_the_project_bibliography(capsys):
    drafts = sorted((FIXTURES / "quarto").glob("*.qmd"))
    code, out, err = run(capsys, "bib", *drafts)
    assert code == 0 and err == ""
    assert [line for line in out.splitlines() if line.startswith("@")] == ["@book{white1972elements,", "@article{zinsser2006writing,"]


def test_cites_reports_cycles_and_outside_includes_on_stderr(capsys, project):
    (project / "main.tex").write_text("\\input{main}\\input{../x}\\cite{a}", encoding="utf-8")
    (project.parent / "x.tex").write_text("\\cite{b}", encoding="utf-8")
    code, out, err = run(capsys, "cites", project / "main.tex", "--json")
    assert code == 0 and [record["keys"] for record in json.loads(out)] == [["a"]]
    assert "makes an include cycle; not followed" in err and "outside the project directory" in err


def test_bib_writes_atomically_and_reports_missing_keys(capsys, project):
    out_file = project / "out.bib"
    out_file.write_text("old content", encoding="utf-8")
    code, out, err = run(capsys, "bib", project / "main.tex", "-o", out_file, "--partial", "--force")
    assert code == 1
    assert out_file.read_text(encoding="utf-8").endswith("\n\n@misc{known, title = {Known}}\n")
    assert "wrote 1 entries" in err and "citewise: 1 cited keys not found: unknown" in err
    assert sorted(path.name for path in project.iterdir()) == [".git", "main.tex", "out.bib", "refs.bib"]


def test_bib_to_stdout_with_from_files_and_index(capsys, project, tmp_path):
    extra = tmp_path / "extra.bib"
    extra.write_text("@misc{unknown, title = {Now Known}}\n", encoding="utf-8")
    code, out, err = run(capsys, "bib", project / "main.tex", "--from", extra)
    assert code == 0 and err == ""
    assert out == "@misc{known, title = {Known}}\n\n@misc{unknown, title = {Now Known}}\n"


def test_bib_takes_index_only_references_and_exports_all(capsys, project, tmp_path):
    index_path = tmp_path / "index.sqlite"
    with Index.open(index_path) as index:
        index.upsert(Reference(key="unknown", entry_type="misc", title="From the Index", year="2024"))
        index.upsert(Reference(key="zzz", entry_type="misc", title="Also Indexed", year="2023"))
    code, out, _ = run(capsys, "bib", project / "main.tex", "--index", index_path)
    assert code == 0 and "@misc{unknown," in out and "zzz" not in out
    code, out, _ = run(capsys, "bib", "--all", "--index", index_path)
    assert code == 0 and out.index("@misc{unknown,") < out.index("@misc{zzz,")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bib"], "citewise: bib: name at least one draft, or use --all to export the whole index"),
        (["bib", "--all"], "no index here"),
        (["bib", "{draft}", "--from", "nope.bib"], "citewise: nope.bib: no such .bib file"),
        (["bib", "{draft}", "-o", "{bib}"], "is a bibliography being read"),
        (["cites", "{junk}"], "binary data, not a LaTeX or Markdown draft"),
        (["cites", "{bib}"], f"not a {DRAFT_FORMATS} draft"),
        (["cites", "{missing}"], "missing.tex: no such file"),
        (["bib", "{draft}", "-o", "{nodir}"], "cannot write: no such folder"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(capsys, project, argv, message):
    (project / "junk.tex").write_bytes(bytes(range(256)) * 64)
    names = {"draft": project / "main.tex", "bib": project / "refs.bib", "junk": project / "junk.tex", "missing": project / "missing.tex",
             "nodir": project / "no" / "such" / "dir.bib"}
    code, _, err = run(capsys, *(arg.format(**names) for arg in argv))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert (project / "refs.bib").read_text(encoding="utf-8").startswith("@misc{known")


def test_console_script_never_prints_a_traceback(project, tmp_path):
    (project / "junk.tex").write_bytes(b"\x00\xff" * 5000)
    (project / "open.tex").write_text("\\cite{never closed\n" + "{" * 5000, encoding="utf-8")
    env = {**os.environ, "CITEWISE_INDEX": str(tmp_path / "none.sqlite")}
    for draft in ("junk.tex", "open.tex"):
        done = subprocess.run([sys.executable, "-m", "citewise", "bib", str(project / draft)], capture_output=True, text=True, env=env, timeout=120)
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith("citewise: ")
    assert done.returncode == 0 and "never closed" in done.stderr


def test_demo_draft_cites_two_entries_of_the_demo_library(capsys):
    code, out, _ = run(capsys, "bib", EXAMPLES / "draft.tex")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("@")] == [
        "@inproceedings{songScoreBasedGenerativeModeling2021,", "@inproceedings{zhengDPMSolverv3ImprovedDiffusion2023,"]
