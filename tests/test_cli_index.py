"""The `citewise index|search|suggest` command line, run as a real process on the seed digest."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from conftest import EXAMPLES, FIXTURES

CITEWISE = [sys.executable, "-m", "citewise"]
DIGEST = str(EXAMPLES / "daily-papers-digest.txt")
DRAFTS = FIXTURES / "index"
RESULT_FIELDS = {"key", "title", "authors", "year", "score", "doi", "arxiv", "source"}


def run(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CITEWISE, *args], input=stdin, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("citewise: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def digest_index(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli") / "index.sqlite")
    result = run("index", "add", DIGEST, "--index", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "added 75, updated 0, skipped 0, failed 0; embedded 75"
    return path


def test_reingest_skips_everything_and_embeds_nothing(digest_index):
    result = run("index", "add", DIGEST, "--index", digest_index)
    assert result.returncode == 0
    assert result.stdout.strip() == "added 0, updated 0, skipped 75, failed 0; embedded 0"


def test_stats_json_and_text(digest_index):
    stats = json.loads(run("index", "stats", "--json", "--index", digest_index).stdout)
    assert stats["references"] == 75 and stats["embedded"] == 75 and stats["needs_embedding"] == 0
    assert stats["model"] == "sentence-transformers/all-MiniLM-L6-v2" and stats["dimension"] == 384
    assert stats["sources"] == {DIGEST: 75}
    text = run("index", "stats", "--index", digest_index).stdout
    assert "references  75" in text


def test_index_location_from_environment(digest_index):
    result = run("index", "stats", "--json", env={"CITEWISE_INDEX": digest_index})
    assert json.loads(result.stdout)["path"] == digest_index


def test_search_json_results(digest_index):
    result = run("search", "fast ODE solvers make diffusion sampling cheaper", "-k", "5", "--json",
                 "--index", digest_index)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 5
    assert all(set(hit) >= RESULT_FIELDS for hit in hits)
    assert "DPMSolverV3" in [hit["key"] for hit in hits[:3]]
    assert hits[0]["source"] == DIGEST and hits[0]["score"] >= hits[-1]["score"]


def test_search_text_output(digest_index):
    result = run("search", r"fair \emph{mixture of experts}", "-k", "2", "--index", digest_index)
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(" 1. FEAMOEFairExplainable  FEAMOE: Fair")


def test_batch_mode_answers_each_line_in_order(digest_index):
    queries = "fair mixture of experts\n\nself-supervised item recommendation\nfast ODE solvers for diffusion\n"
    result = run("search", "-", "-k", "3", "--json", "--index", digest_index, stdin=queries)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 4 and answers[1] == []
    assert answers[0][0]["key"] == "FEAMOEFairExplainable"
    assert answers[2][0]["key"] == "SelfSupervisedLearning"
    assert "DPMSolverV3" in [hit["key"] for hit in answers[3]]
    assert all(len(answer) == 3 for answer in answers if answer)


def test_suggest_latex_draft_per_paragraph_excluding_cited(digest_index):
    result = run("suggest", str(DRAFTS / "draft.tex"), "-k", "3", "--json", "--index", digest_index)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [record["line"] for record in records] == [7, 11]
    assert all({"file", "line", "text", "items"} <= set(record) for record in records)
    first, second = ([item["key"] for item in record["items"]] for record in records)
    assert "DPMSolverV3" not in first, "the draft already cites it"
    assert {"DCSolverImproving", "ScoreBasedGenerative"} & set(first)
    assert second[0] == "FEAMOEFairExplainable"


def test_suggest_markdown_draft_skips_front_matter_and_code(digest_index):
    result = run("suggest", str(DRAFTS / "draft.md"), "-k", "3", "--json", "--index", digest_index)
    records = json.loads(result.stdout)
    assert [record["line"] for record in records] == [8, 15]
    assert "SelfSupervisedLearning" not in [item["key"] for item in records[0]["items"]]
    assert "DPMSolverV3" in [item["key"] for item in records[1]["items"]]
    text = run("suggest", str(DRAFTS / "draft.md"), "-k", "1", "--index", digest_index).stdout
    assert text.startswith(f"{DRAFTS / 'draft.md'}:8: Large recommender systems")


def test_malformed_file_reports_file_and_line_and_rest_is_ingested(tmp_path):
    index = str(tmp_path / "index.sqlite")
    broken = str(DRAFTS / "broken.bib")
    result = run("index", "add", broken, DIGEST, "--index", index, "--no-embed")
    assert result.returncode == 1
    assert f"{broken}:8: " in result.stderr and "Traceback" not in result.stderr
    assert "failed 1" in result.stdout
    stats = json.loads(run("index", "stats", "--json", "--index", index).stdout)
    assert stats["sources"][DIGEST] == 75 and stats["sources"][broken] >= 2


def test_unknown_format_is_one_line_error(tmp_path):
    notes = tmp_path / "notes.xyz"
    notes.write_text("just some notes\nnothing bibliographic\n")
    assert_one_line_error(run("index", "add", str(notes), "--index", str(tmp_path / "i.sqlite")),
                          str(notes), "unknown format")


def test_newer_schema_is_one_line_error(tmp_path):
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    assert_one_line_error(run("index", "stats", "--index", str(path)), "newer citewise")
    assert_one_line_error(run("search", "anything", "--index", str(path)), "newer citewise")


def test_locked_index_is_one_line_error(digest_index):
    holder = sqlite3.connect(digest_index, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert_one_line_error(run("index", "add", DIGEST, "--index", digest_index), "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_missing_model_is_one_line_error(digest_index, tmp_path):
    result = run("search", "diffusion", "--model", str(tmp_path / "no-model"), "--index", digest_index)
    assert_one_line_error(result, "cannot load embedding model")


def test_missing_index_and_unknown_draft_format(tmp_path, digest_index):
    assert_one_line_error(run("search", "x", "--index", str(tmp_path / "none.sqlite")), "no index here")
    draft = tmp_path / "draft.docx"
    draft.write_text("text")
    assert_one_line_error(run("suggest", str(draft), "--index", digest_index), "unknown draft format")


@pytest.mark.parametrize("args", [["--help"], ["index", "stats", "--json"]])
def test_help_and_stats_do_not_import_torch(args, digest_index):
    result = run_noting_modules(args, digest_index)
    assert "usage: citewise" in result.stdout or '"references": 75' in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "NO-TORCH NO-ST"


def test_search_runs_the_bundled_model_without_torch(digest_index):
    """The bundled BERT model runs on bib/index/bert.py (numpy, ONNX Runtime): a search pays no torch import."""
    result = run_noting_modules(["search", "fast ODE solvers make diffusion sampling cheaper", "--json"], digest_index)
    assert "DPMSolverV3" in [hit["key"] for hit in json.loads(result.stdout)[:3]]
    assert result.stderr.strip().splitlines()[-1] == "NO-TORCH NO-ST"


def run_noting_modules(args: list[str], index: str) -> subprocess.CompletedProcess[str]:
    """`citewise ARGS --index INDEX` in a process that ends by naming on stderr whether torch and
    sentence-transformers were imported."""
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['citewise', *{args!r}, *(['--index', {index!r}] if '--help' not in {args!r} else [])]\n"
        "try:\n"
        "    runpy.run_module('citewise', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', "
        "'ST' if 'sentence_transformers' in sys.modules else 'NO-ST', file=sys.stderr)\n"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)


def test_reembed_replaces_every_vector(digest_index):
    result = run("index", "reembed", "--index", digest_index)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "embedded 75 references with sentence-transformers/all-MiniLM-L6-v2"
    stats = json.loads(run("index", "stats", "--json", "--index", digest_index).stdout)
    assert stats["embedded"] == 75 and stats["stale_embeddings"] == 0


def test_suggest_excludes_a_paper_cited_by_its_bib_key_after_merging(tmp_path):
    """examples/library.bib gives the digest's papers keys of their own; the demo draft cites those."""
    index = str(tmp_path / "index.sqlite")
    added = run("index", "add", DIGEST, str(EXAMPLES / "library.bib"), "--index", index, "--no-embed")
    assert "added 76, updated 4" in added.stdout
    result = run("suggest", str(EXAMPLES / "draft.tex"), "-k", "5", "--json", "--index", index)
    assert result.returncode == 0, result.stderr
    suggested = {item["title"] for record in json.loads(result.stdout) for item in record["items"]}
    assert "Score-Based Generative Modeling through Stochastic Differential Equations" not in suggested
    assert not any(title.startswith("DPM-Solver-v3") for title in suggested)


def test_stats_counts_equal_a_count_over_the_rows_after_add_reembed_and_rebuild(tmp_path):
    """`index stats` reads counts the writes keep (schema 10); each command leaves them exact."""
    index = str(tmp_path / "index.sqlite")
    library = tmp_path / "library.bib"
    library.write_text((EXAMPLES / "library.bib").read_text(encoding="utf-8"), encoding="utf-8")

    def stats_and_rows() -> tuple[dict, dict]:
        stats = json.loads(run("index", "stats", "--json", "--index", index).stdout)
        with sqlite3.connect(index) as db:
            rows = db.execute("SELECT count(*), sum(embedding IS NOT NULL AND embedded_hash = text_hash),"
                              " sum(doi != ''), sum(arxiv != ''), sum(json_extract(data, '$.abstract') != '') FROM refs")
            counted = dict(zip(("references", "embedded", "with_doi", "with_arxiv", "with_abstract"), rows.fetchone()))
        return {name: stats[name] for name in counted}, counted

    assert run("index", "add", DIGEST, str(library), "--index", index, "--no-embed").returncode == 0
    kept, counted = stats_and_rows()
    assert kept == counted and kept["references"] == 76 and kept["embedded"] == 0
    assert run("index", "reembed", "--index", index).returncode == 0
    kept, counted = stats_and_rows()
    assert kept == counted and kept["embedded"] == 76
    assert run("index", "rebuild", "--index", index, "--no-embed").returncode == 0
    kept, counted = stats_and_rows()
    assert kept == counted and kept["references"] == 76 and kept["embedded"] == 0


@pytest.mark.parametrize(("option", "steps"), [([], 10), (["--nice", "3"], 3), (["--nice", "0"], 0)])
def test_index_add_runs_below_normal_priority_unless_told_otherwise(tmp_path, option, steps):
    """Bulk work yields the cores to an editor's language server; `--nice N` chooses how far."""
    probe = (
        "import os, sys\n"
        "from citewise.server.cli import main\n"
        "before = os.getpriority(os.PRIO_PROCESS, 0)\n"
        f"status = main(['index', 'add', {DIGEST!r}, '--embed', 'later', '--index', {str(tmp_path / 'i.sqlite')!r},"
        f" *{option!r}])\n"
        "print(status, before, os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    status, before, after = map(int, result.stdout.split()[-3:])
    assert status == 0, result.stderr
    assert after == min(19, before + steps)


@pytest.mark.parametrize("value", ["-5", "20", "fast"])
def test_a_nice_outside_0_to_19_is_one_line_error(tmp_path, value):
    result = run("index", "add", DIGEST, "--index", str(tmp_path / "i.sqlite"), "--nice", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--nice: expected a whole number from 0 to 19" in result.stderr.strip().splitlines()[-1]
