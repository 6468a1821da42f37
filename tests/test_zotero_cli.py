"""`citewise zotero sync|status` as a user runs them: a subprocess against the test server."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from zotero_server import ZoteroTestServer, synthetic_item
from zotero_support import API_KEY, index_view, library_view, seeded_library, server  # noqa: F401

from citewise.bib.index.store import Index
from citewise.bib.model import Reference

CITEWISE = [sys.executable, "-m", "citewise"]


def citewise(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "ZOTERO_API_KEY": API_KEY}
    env.pop("CITEWISE_ZOTERO_ENDPOINT", None)
    return subprocess.Popen([*CITEWISE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **popen)


def run(*args: str) -> subprocess.CompletedProcess:
    process = citewise(*args)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def test_sync_prints_a_summary_and_progress_then_status_reports(server, tmp_path):
    index_path = str(tmp_path / "index.sqlite")
    done = run("zotero", "sync", "--library", "users/1", "--endpoint", server.url, "--index", index_path)
    assert done.returncode == 0, done.stderr
    assert "20 added, 0 updated, 0 deleted, 2 requests" in done.stdout
    assert "20/20 items" in done.stderr
    assert API_KEY not in done.stdout + done.stderr

    status = run("zotero", "status", "--index", index_path)
    assert f"users/1: version {server.library.version}, 20 items, last sync " in status.stdout


def test_bad_library_and_refused_key_end_with_one_line(server, tmp_path):
    index_path = str(tmp_path / "index.sqlite")
    wrong = run("zotero", "sync", "--library", "groups/99", "--endpoint", server.url, "--index", index_path)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1].startswith("citewise: Zotero has no library groups/99")
    assert "Traceback" not in wrong.stderr
    malformed = run("zotero", "sync", "--library", "me", "--index", index_path)
    assert malformed.returncode == 2 and "users/123 or groups/45" in malformed.stderr


def test_a_killed_sync_resumes_where_it_stopped(tmp_path):
    library = seeded_library()
    library.add_items([synthetic_item(n) for n in range(580)])
    index_path = str(tmp_path / "index.sqlite")
    with ZoteroTestServer(library, api_key=API_KEY, request_delay=0.1) as server:
        args = ("zotero", "sync", "--library", "users/1", "--endpoint", server.url, "--index", index_path)
        process = citewise(*args)
        deadline = time.monotonic() + 60
        while len(server.requests_matching("itemKey")) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.kill()
        process.communicate()
        with Index.open(index_path) as index:
            applied = len(index_view(index))
            assert index.get_meta("zotero:users/1:version") is None
        assert 200 <= applied < 600
        server.request_delay = 0
        server.requests.clear()

        finished = run(*args)

        assert finished.returncode == 0, finished.stderr
        assert f"{600 - applied} added, 0 updated" in finished.stdout
        fetched = ",".join(r.query["itemKey"] for r in server.requests_matching("itemKey")).split(",")
        assert len(fetched) == 600 - applied
        with Index.open(index_path) as index:
            assert set(index_view(index)) == library_view(library)
            assert index.get_meta("zotero:users/1:version") == str(library.version)


def test_offline_sync_from_a_real_zotero_sqlite(tmp_path, index_location):
    """On both backends. An item moved to Zotero's trash leaves the index at the next sync, and
    nothing else does: the library's items are known by their sync records, not by reading every
    paper (which took 9 s, 37 s cold, inside the write transaction of a 300,000-paper index)."""
    database = tmp_path / "zotero.sqlite"
    shutil.copyfile(Path(__file__).resolve().parent / "fixtures" / "readers" / "zotero.sqlite", database)
    with Index.open(index_location) as index:  # a paper from elsewhere
        index.add_references([Reference(key="elsewhere2020", title="A paper read from a .bib", year="2020")])
    first = run("zotero", "sync", "--sqlite", str(database), "--index", index_location)
    assert first.returncode == 0, first.stderr
    assert "49 added" in first.stdout
    again = run("zotero", "sync", "--sqlite", str(database), "--index", index_location)
    assert "0 added, 0 updated, 0 deleted" in again.stdout
    with Index.open(index_location) as index:
        view = index_view(index)
        assert len(view) == 49
        assert index.get("shelah1969").zotero_key == "6STQAJ5F"
        assert all(title for _, title, _, _ in view.values())

    with sqlite3.connect(database) as zotero:  # the user moves an item to the trash
        zotero.execute("INSERT INTO deletedItems (itemID) SELECT itemID FROM items WHERE key = '4JQC7AVV'")
    trashed = run("zotero", "sync", "--sqlite", str(database), "--index", index_location)
    assert "0 added, 0 updated, 1 deleted" in trashed.stdout, trashed.stdout + trashed.stderr
    with Index.open(index_location) as index:
        assert "4JQC7AVV" not in index_view(index) and len(index_view(index)) == 48
        assert index.get("shelah1970") is None
        assert index.get("shelah1969") is not None and index.get("elsewhere2020") is not None
