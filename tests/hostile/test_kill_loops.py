"""kill -9 at random points, in a loop: after each kill the files and the index are as before or
as after the interrupted command, never in between.

- `citewise index add` of a 200-entry .bib: the index's rows are those of the index before the
  add or after an uninterrupted one (each file is added in one transaction);
- `citewise bib draft.tex -o refs.bib` over a refs.bib it wrote before: that file is byte for byte
  the old or the new output (temp file + rename);
- `citewise zotero sync` against the Zotero test server: every item present is exactly as an
  uninterrupted sync stores it, the library version is stored only with all items, and the next
  sync ends where an uninterrupted one does;
- the language server's `citewise.generateBib`, which writes the draft's .bib itself: old or new.

A few rounds in `make test`; many in `make fuzz` ($CITEWISE_FUZZ=long). Kill times are drawn
from a seeded generator (random seeds in long runs) over the uninterrupted run's duration.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fuzz_support import LONG, REPO
from stdio_client import StdioServer
from zotero_server import ZoteroTestServer, synthetic_item
from zotero_support import API_KEY, index_view, seeded_library

from citewise.bib.index.store import Index

ROUNDS = 25 if LONG else 3
CITEWISE = [sys.executable, "-m", "citewise"]


def random_source() -> random.Random:
    return random.Random() if LONG else random.Random(10)


def write_big_bib(path: Path, count: int, offset: int = 0) -> list[str]:
    keys = [f"fuzz{offset + n}" for n in range(count)]
    path.write_text("".join(
        f"@article{{{key},\n  author = {{Okafor, Ada and Lindqvist, Per}},\n  title = {{Sparse kernel methods, part {n}}},\n"
        f"  journal = {{Journal of Tests}},\n  year = {{{1990 + n % 30}}},\n  doi = {{10.5555/fuzz.{offset + n}}},\n}}\n\n"
        for n, key in enumerate(keys)), encoding="utf-8")
    return keys


def index_state(path: Path) -> str:
    """A hash of every row the index holds (references, aliases, metadata); also checks its integrity."""
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = [sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in ("refs", "aliases", "meta")]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def file_state(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def copy_index(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copy(source, target)


def timed_run(args: list[str], **kwargs) -> float:
    start = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, result.stderr
    return time.monotonic() - start


def run_and_kill(args: list[str], delay: float, **kwargs) -> None:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.kill()
    process.wait(timeout=60)


def test_index_add_killed_at_random_points(tmp_path):
    big = tmp_path / "big.bib"
    write_big_bib(big, 200)
    base, finished, work = tmp_path / "base.sqlite", tmp_path / "finished.sqlite", tmp_path / "work.sqlite"
    timed_run([*CITEWISE, "index", "add", str(REPO / "examples" / "library.bib"), "--no-embed", "--index", str(base)])
    copy_index(base, finished)
    duration = timed_run([*CITEWISE, "index", "add", str(big), "--no-embed", "--index", str(finished)])
    before, after = index_state(base), index_state(finished)
    assert before != after
    rng = random_source()
    for _ in range(ROUNDS):
        copy_index(base, work)
        run_and_kill([*CITEWISE, "index", "add", str(big), "--no-embed", "--index", str(work)], rng.uniform(0, duration))
        assert index_state(work) in (before, after)


def test_bib_output_killed_at_random_points(tmp_path):
    keys = write_big_bib(tmp_path / "library.bib", 600)
    draft = tmp_path / "draft.tex"
    out = tmp_path / "refs.bib"

    def bib_command() -> list[str]:
        return [*CITEWISE, "bib", str(draft), "--from", str(tmp_path / "library.bib"), "-o", str(out),
                "--index", str(tmp_path / "index.sqlite")]

    Index.open(tmp_path / "index.sqlite").close()
    draft.write_text("\\cite{" + ",".join(keys[:300]) + "}\n", encoding="utf-8")
    timed_run(bib_command())
    before = file_state(out)
    draft.write_text("\\cite{" + ",".join(keys[200:]) + "}\n", encoding="utf-8")
    saved = out.read_bytes()
    duration = timed_run(bib_command())
    after = file_state(out)
    assert before != after
    rng = random_source()
    for _ in range(ROUNDS):
        out.write_bytes(saved)
        run_and_kill(bib_command(), rng.uniform(0, duration))
        assert file_state(out) in (before, after)


def test_zotero_sync_killed_at_random_points(tmp_path):
    library = seeded_library()
    library.add_items([synthetic_item(n) for n in range(200)])
    env = {**os.environ, "ZOTERO_API_KEY": API_KEY}
    env.pop("CITEWISE_ZOTERO_ENDPOINT", None)
    with ZoteroTestServer(library, api_key=API_KEY, request_delay=0.02) as server:
        def sync(index_path: Path) -> list[str]:
            return [*CITEWISE, "zotero", "sync", "--library", "users/1", "--endpoint", server.url, "--index", str(index_path)]

        reference = tmp_path / "reference.sqlite"
        duration = timed_run(sync(reference), env=env)
        with Index.open(reference) as index:
            expected = index_view(index)
            expected_version = index.get_meta("zotero:users/1:version")
        work = tmp_path / "work.sqlite"
        rng = random_source()
        for _ in range(ROUNDS):
            run_and_kill(sync(work), rng.uniform(0, duration), env=env)
            if not work.exists():
                continue
            index_state(work)
            with Index.open(work) as index:
                view = index_view(index)
                version = index.get_meta("zotero:users/1:version")
            assert all(expected.get(key) == value for key, value in view.items())
            assert version is None or (version == expected_version and view == expected)
        timed_run(sync(work), env=env)
        with Index.open(work) as index:
            assert index_view(index) == expected
            assert index.get_meta("zotero:users/1:version") == expected_version


def test_server_generate_bib_killed_at_random_points(tmp_path):
    keys = write_big_bib(tmp_path / "library.bib", 300)
    (tmp_path / "draft.tex").write_text("\\cite{" + ",".join(keys[:200]) + "}\n\\bibliography{library,refs}\n", encoding="utf-8")
    out = tmp_path / "refs.bib"
    out.write_text("% refs.bib, kept by the author\n", encoding="utf-8")
    draft_uri = (tmp_path / "draft.tex").as_uri()

    def generate(kill_after: float | None) -> float:
        server = StdioServer(tmp_path, index_path=tmp_path / "index.sqlite")
        try:
            server.initialize({"targetBib": str(out)})
            server.status(timeout=120)
            start = time.monotonic()
            request = server.send_request("workspace/executeCommand", {"command": "citewise.generateBib", "arguments": [draft_uri]})
            if kill_after is None:
                answer = server.response(request, timeout=120)
                assert answer.get("result", {}).get("path") == str(out), answer
                return time.monotonic() - start
            time.sleep(kill_after)
            return 0.0
        finally:
            server.kill()

    before_text = out.read_bytes()
    before = file_state(out)
    duration = generate(None)
    after = file_state(out)
    assert before != after
    rng = random_source()
    for _ in range(max(1, ROUNDS // 3)):  # each round starts a language server: fewer rounds
        out.write_bytes(before_text)
        generate(rng.uniform(0, duration))
        assert file_state(out) in (before, after)
