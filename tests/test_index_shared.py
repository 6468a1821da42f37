"""One index shared by several processes, on SQLite and on PostgreSQL; PostgreSQL locations and secrets.

Each test runs the real `citewise` command line in subprocesses against a real SQLite file or a
real PostgreSQL database (conftest `index_location`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EXAMPLES

from citewise.bib.errors import CitewiseError
from citewise.bib.index.location import display_location, resolve_index_path
from citewise.bib.index.store import Index

CITEWISE = [sys.executable, "-m", "citewise"]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CITEWISE, *args], capture_output=True, text=True, timeout=timeout)


def write_bib(path: Path, prefix: str, count: int) -> Path:
    entries = [
        f"@article{{{prefix}{number},\n  title = {{{prefix.title()} study number {number} of shared indexes}},\n"
        f"  author = {{Writer{prefix}{number}, Ann and Other, Person}},\n  year = {{{2000 + number % 25}}},\n}}\n"
        for number in range(count)
    ]
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def test_concurrent_adds_and_reads_lose_nothing(index_location, tmp_path):
    """Four writers and two readers at once: every paper lands, nobody sees a lock error."""
    files = [write_bib(tmp_path / f"part{number}.bib", f"part{number}x", 150) for number in range(4)]
    assert run("index", "add", str(EXAMPLES / "library.bib"), "--index", index_location, "--no-embed").returncode == 0
    library = json.loads(run("index", "stats", "--json", "--index", index_location).stdout)["references"]
    assert library > 0

    def add(path: Path) -> subprocess.CompletedProcess:
        return run("index", "add", str(path), "--index", index_location, "--no-embed")

    def read(_: int) -> subprocess.CompletedProcess:
        return run("index", "stats", "--json", "--index", index_location)

    with ThreadPoolExecutor(max_workers=6) as pool:
        writers = list(pool.map(add, files))
        readers = list(pool.map(read, range(2)))
    for result in writers + readers:
        assert result.returncode == 0, result.stderr
        assert "locked" not in result.stderr and "Traceback" not in result.stderr
    stats = json.loads(run("index", "stats", "--json", "--index", index_location).stdout)
    assert stats["references"] == library + 4 * 150
    for reader in readers:
        assert json.loads(reader.stdout)["references"] >= library


def test_two_processes_opening_a_new_index_migrate_it_once(index_location):
    probe = (
        "import sys; from citewise.bib.index.store import Index; "
        "index = Index.open(sys.argv[1]); print(index.schema_version, index.count())"
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: subprocess.run([sys.executable, "-c", probe, index_location],
                                                         capture_output=True, text=True, timeout=120), range(3)))
    for result in results:
        assert result.returncode == 0, result.stderr
    with Index.open(index_location) as index:
        assert {result.stdout.split()[0] for result in results} == {str(index.schema_version)}
        assert index.count() == 0


def test_cli_end_to_end_on_postgresql(postgres, tmp_path):
    url = postgres.new_database()
    added = run("index", "add", str(EXAMPLES / "daily-papers-digest.txt"), str(EXAMPLES / "library.bib"), "--index", url)
    assert added.returncode == 0, added.stderr
    stats = json.loads(run("index", "stats", "--json", "--index", url).stdout)
    assert stats["references"] == 76 and stats["embedded"] == 76
    found = run("search", "fast ODE solvers make diffusion sampling cheaper", "-k", "3", "--json", "--index", url)
    assert found.returncode == 0, found.stderr
    assert "DPMSolverV3" in [hit["key"] for hit in json.loads(found.stdout)]


def test_a_password_never_shows(postgres, monkeypatch, capsys):
    url = postgres.new_database()
    with_password = url.replace("postgres:@", "postgres:s3cret-pw@", 1)
    assert "s3cret-pw" in with_password
    with Index.open(with_password) as index:
        assert "s3cret-pw" not in json.dumps(index.stats())
    stats = run("index", "stats", "--index", with_password)
    assert stats.returncode == 0 and "s3cret-pw" not in stats.stdout + stats.stderr
    unreachable = with_password.replace("?host=", "?port=1&host=")
    failed = run("index", "stats", "--index", unreachable)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "s3cret-pw" not in failed.stdout + failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    with pytest.raises(CitewiseError) as raised:
        Index.open(unreachable)
    assert "s3cret-pw" not in str(raised.value)


def test_database_locations_are_kept_and_shown_without_secrets(monkeypatch):
    url = "postgresql://lab:hunter2@db.example.org:5433/papers?sslmode=require"
    assert resolve_index_path(url) == url
    monkeypatch.setenv("CITEWISE_INDEX", url)
    assert resolve_index_path(None) == url
    assert display_location(url) == "postgresql://lab@db.example.org:5433/papers"
    assert display_location("/home/me/index.sqlite") == "/home/me/index.sqlite"


async def test_language_server_completes_from_a_postgresql_index(postgres, latex_workspace):
    """The editor's `indexPath` (here `CITEWISE_INDEX`) may name a database; the password stays out of status."""
    from lsp_support import build_index, lsp_session, open_file, position_of, status
    from lsprotocol import types

    url = postgres.new_database().replace("postgres:@", "postgres:s3cret-pw@", 1)
    build_index(url, EXAMPLES / "library.bib", EXAMPLES / "daily-papers-digest.txt", embed=False)
    async with lsp_session("neovim", latex_workspace, index_path=url) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text().replace("\\cite{vaswaniAttentionAllYou2017}", "\\cite{Vasvani}")
        draft.write_text(text)
        uri = open_file(client, draft, text)
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, "\\cite{Vasvani}", len("\\cite{Vasvani")),
        ))
        assert "vaswaniAttentionAllYou2017" in [item.label for item in result.items]
        shown = await status(client)
        assert shown["indexOpen"] is True and shown["indexCount"] == 76
        assert "s3cret-pw" not in str(shown) and shown["indexPath"].startswith("postgresql://postgres@")
