"""`citewise index add` streams a JSON Lines file in batches and, killed at any moment, continues.

The command runs as a real process on a generated arXiv-style JSON Lines file (with repeated
papers, colliding keys and a broken line among them) and is killed with SIGKILL at several
points; running the same command again must leave exactly the index an uninterrupted run
leaves: the same rows, ids, keys, merged sources, full-text rows, aliases and metadata.
Both backends (conftest `index_location`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citewise.bib.index.store import Index
from citewise.bib.readers import Resume, read_file_items, read_path
from citewise.server.cli.index_cmd import progress_line

CITEWISE = [sys.executable, "-m", "citewise"]
PAPERS = 2400
BATCH = 40
WORDS = ("sparse attention diffusion sampling graph neural operator kernel bandit policy robust transport "
         "quantum lattice spectral manifold causal prior federated contrastive").split()


def write_arxiv_jsonl(path: Path, count: int) -> Path:
    """`count` lines: a paper per line, every 97th a repeat of an earlier id with an abstract added,
    one broken line; few authors and years make many papers share a key's base."""
    lines = []
    for number in range(count):
        if number == count // 3:
            lines.append('{"id": "2101.99999", "title": "cut off')
            continue
        source = number - 50 if number % 97 == 96 else number
        title = " ".join(WORDS[(source * 7 + step * 3) % len(WORDS)] for step in range(6)) + f" {source}"
        lines.append(json.dumps({
            "id": f"21{source // 10000 % 100:02d}.{source % 10000:05d}",
            "title": title.capitalize(),
            "abstract": f"We study {title}." if number % 97 == 96 or source % 5 else "",
            "authors_parsed": [[("Wang", "Li", "Smith")[source % 3], "A.", ""]],
            "categories": "cs.LG",
            "update_date": f"{2018 + source % 3}-05-01",
        }))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def add_command(source: Path, location: str) -> list[str]:
    return [*CITEWISE, "index", "add", str(source), "--index", location, "--embed", "later", "--batch-size", str(BATCH)]


def dump(location: str) -> dict[str, list]:
    """Everything the index holds, row by row, in a comparable form. PostgreSQL's row ids come from a
    sequence, which a rolled-back insert advances too, so there rows are compared by key, not id."""
    postgres = not str(location).endswith(".sqlite")
    row_id = "" if postgres else "refs.id, "
    words = ("SELECT key, words::text, names::text FROM refs ORDER BY key" if postgres else
             "SELECT refs.key, refs_fts.title, authors, abstract, keywords FROM refs_fts JOIN refs ON refs.id = refs_fts.rowid"
             " ORDER BY refs.key")
    queries = {
        "refs": f"SELECT {row_id}key, doi, arxiv, title_norm, first_author, year, sources, data, text_hash FROM refs"
                " ORDER BY key",
        "aliases": "SELECT aliases.key, refs.key FROM aliases JOIN refs ON refs.id = aliases.ref_id ORDER BY aliases.key",
        "meta": "SELECT name, value FROM meta ORDER BY name",
        "words": words,
    }
    with Index.open(location, read_only=True) as index:
        if not postgres:  # completion's words (refs_names) keep no text: compare their terms and counts
            index.db.execute("CREATE VIRTUAL TABLE temp.names_vocab USING fts5vocab(main, refs_names, 'row')")
            queries["names"] = "SELECT term, doc, cnt FROM temp.names_vocab ORDER BY term"
        return {name: [tuple(row) for row in index.db.execute(sql).fetchall()] for name, sql in queries.items()}


def committed_items(location: str, source: Path) -> int:
    """Items the running ingest has committed so far (its checkpoint), 0 before the first batch."""
    try:
        with Index.open(location, read_only=True) as index:
            stored = index.get_meta("ingest:" + os.path.abspath(source))
    except Exception:  # the index may not exist yet, or be mid-creation
        return 0
    return json.loads(stored)["items"] if stored else 0


def kill_after(command: list[str], location: str, source: Path, items: int) -> int:
    """Start `command`, SIGKILL it once `items` items are committed (at once for 0); its exit status."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while items and process.poll() is None and committed_items(location, source) < items:
        assert time.monotonic() < deadline, "the ingest made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    return process.returncode


@pytest.fixture
def second_location(index_location, request, tmp_path) -> str:
    """Another new index on the same backend as `index_location`."""
    if index_location.endswith(".sqlite"):
        return str(tmp_path / "uninterrupted.sqlite")
    return request.getfixturevalue("postgres").new_database()


def test_killed_ingest_rerun_gives_the_uninterrupted_index(index_location, second_location, tmp_path):
    source = write_arxiv_jsonl(tmp_path / "arxiv-metadata.jsonl", PAPERS)
    whole = subprocess.run(add_command(source, second_location), capture_output=True, text=True, timeout=600)
    assert whole.returncode == 1, whole.stderr  # the broken line
    assert f"{source}:{PAPERS // 3 + 1}: malformed JSON" in whole.stderr
    expected = dump(second_location)
    distinct = PAPERS - 1 - PAPERS // 97
    assert len(expected["refs"]) == distinct and len(expected["words"]) == distinct
    assert not [name for name, _ in expected["meta"] if name.startswith("ingest:")]

    kills = [0, 1, 300, 1000, 1800]
    statuses = [kill_after(add_command(source, index_location), index_location, source, items) for items in kills]
    assert statuses[2:] == [-signal.SIGKILL] * 3  # killed mid-file, not finished
    assert 300 <= committed_items(index_location, source) < PAPERS
    rerun = subprocess.run(add_command(source, index_location), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1 and "continued after the" in rerun.stderr
    assert rerun.stdout.splitlines()[0].split(";")[0] == whole.stdout.splitlines()[0].split(";")[0]
    assert dump(index_location) == expected


def test_ingest_killed_at_random_moments_ends_as_the_uninterrupted_index(index_location, second_location, tmp_path):
    """SIGKILL at moments drawn (seeded) over an uninterrupted run's duration, whatever the command
    is doing then (opening the index, parsing, inside a batch's transaction, committing); each run
    continues the one before, and one last run to the end leaves the uninterrupted index."""
    source = write_arxiv_jsonl(tmp_path / "arxiv-metadata.jsonl", PAPERS)
    started = time.monotonic()
    subprocess.run(add_command(source, second_location), capture_output=True, timeout=600)
    duration = time.monotonic() - started
    expected = dump(second_location)
    moments = random.Random(15)
    for _ in range(6):
        process = subprocess.Popen(add_command(source, index_location), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=moments.uniform(0, duration / 2))
        except subprocess.TimeoutExpired:
            process.kill()
        process.wait(timeout=60)
    rerun = subprocess.run(add_command(source, index_location), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1, rerun.stderr  # the broken line, reported again
    assert dump(index_location) == expected


def test_jsonl_streams_and_resumes_at_byte_offsets(tmp_path):
    source = write_arxiv_jsonl(tmp_path / "papers.jsonl", 300)
    source.write_bytes(b"\xef\xbb\xbf" + source.read_bytes().replace(b"\n", b"\n\xff\xfe bad bytes\n", 1))
    read = read_file_items(source)
    assert read.format == "arxiv-jsonl" and read.size == source.stat().st_size
    items = list(read.items())
    problems = [(item.found.line, item.found.message) for item in items if not hasattr(item.found, "title")]
    assert problems == [(2, "malformed JSON: not UTF-8 text"), (102, "malformed JSON: Invalid control character at")]
    assert items[-1].resume == Resume(source.stat().st_size, 301)
    middle = items[150].resume
    assert [item.found for item in read.items(middle)] == [item.found for item in items[151:]]
    assert [ref.title for ref in read_path(source).references] == [item.found.title for item in items
                                                                     if hasattr(item.found, "title")]


def test_document_format_resumes_by_item_count(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("".join(f"@misc{{k{n}, title = {{Paper number {n} on resumable reading}}}}\n" for n in range(5)))
    read = read_file_items(bib)
    assert read.format == "bibtex"
    assert [item.found.key for item in read.items(Resume(3))] == ["k3", "k4"]


def test_progress_line_shows_rate_and_time_left():
    line = progress_line("reading", 12_000, 0.5, 10.0, 3725.0)
    assert line == f"reading    [{'#' * 15}{'.' * 15}] 12,000 papers, 1,200/s, 1:02:05 left"
    assert progress_line("embedding", 10, 0.1, 0.0, None).endswith("10 papers, 0/s")


def test_embed_later_is_searchable_at_once_and_reembed_pending_finishes(tmp_path):
    digest = str(Path(__file__).resolve().parents[1] / "examples" / "daily-papers-digest.txt")
    index = str(tmp_path / "index.sqlite")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CITEWISE, *args, "--index", index], capture_output=True, text=True, timeout=600, env=env)

    added = run("index", "add", digest, "--embed", "later")
    assert added.stdout.strip() == ("added 75, updated 0, skipped 0, failed 0; embedded 0; "
                                    "75 wait for `citewise index reembed --pending`")
    hits = json.loads(run("search", "DPM-Solver-v3 improved diffusion ODE solver", "--json", "-k", "1").stdout)
    assert hits[0]["title"].startswith("DPM-Solver-v3")
    wrong = run("index", "reembed", "--pending", "--device", "xla")
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "citewise: --device xla: torch sees no such device on this machine; use --device cpu")
    done = run("index", "reembed", "--pending", "--device", "cpu")
    assert done.stdout.strip() == "embedded 75 references with sentence-transformers/all-MiniLM-L6-v2", done.stderr
    assert json.loads(run("index", "stats", "--json").stdout)["needs_embedding"] == 0
    assert run("index", "reembed", "--pending").stdout.strip() == "embedded 0 references"
