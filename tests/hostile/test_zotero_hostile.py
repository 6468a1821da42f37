"""`citewise zotero sync` against a misbehaving server and bad keys: one clear line each, the key never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_support import assert_one_line_error  # noqa: E402
from zotero_server import Fault, ZoteroTestServer  # noqa: E402
from zotero_support import API_KEY, seeded_library  # noqa: E402


@pytest.fixture
def server():
    with ZoteroTestServer(seeded_library(), api_key=API_KEY) as running:
        yield running


def sync(server, tmp_path, key: str | None = API_KEY, timeout: float = 120, endpoint: bool = True):
    env = {key_name: value for key_name, value in os.environ.items() if key_name not in ("ZOTERO_API_KEY", "CITEWISE_ZOTERO_ENDPOINT")}
    if key is not None:
        env["ZOTERO_API_KEY"] = key
    where = ["--endpoint", server.url] if endpoint else []
    done = subprocess.run([sys.executable, "-m", "citewise", "zotero", "sync", "--library", "users/1", *where,
                           "--index", str(tmp_path / "index.sqlite")], capture_output=True, timeout=timeout, env=env)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def test_a_huge_retry_after_is_refused_at_once(server, tmp_path):
    server.faults.append(Fault(match="GET /users/1/items", status=429, retry_after="999999"))
    result = sync(server, tmp_path, timeout=60)
    line = assert_one_line_error(result, "asks to wait 999999 s", "more than the 300 s citewise waits")
    assert API_KEY not in result.stdout + result.stderr and "users/1" not in line.split("asks")[1]


def test_a_short_wait_is_announced_then_the_sync_succeeds(server, tmp_path):
    server.faults.append(Fault(match="GET /users/1/items", status=429, retry_after="1"))
    result = sync(server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "citewise: Zotero asks to wait 1 s before the next request; waiting" in result.stderr
    assert "20 added" in result.stdout


def test_no_key_for_zotero_org_is_said_at_once_without_a_request(server, tmp_path):
    result = sync(server, tmp_path, key=None, endpoint=False)
    assert_one_line_error(result, "Zotero needs an API key for users/1", "ZOTERO_API_KEY")
    assert "attempt" not in result.stderr


@pytest.mark.parametrize("bad_key", ["k3yS3cr3t\u00e9Zotero", "k3yS3cr3tZotero\nX-Injected: 1", "k3yS3cr3t Zotero"])
def test_a_malformed_key_is_one_line_and_never_shown(server, tmp_path, bad_key):
    result = sync(server, tmp_path, key=bad_key)
    line = assert_one_line_error(result, "Zotero API key holds characters no API key has")
    assert "k3yS3cr3t" not in result.stdout + result.stderr and line
    assert server.requests == []


@pytest.mark.parametrize("fault", [
    Fault(match="GET /users/1/items", body="<html>502 Bad Gateway, but with status 200</html>"),
    Fault(match="GET /users/1/items", body='{"items": "not a list"}'),
    Fault(match="GET /users/1/items", body='[{"key": 5, "version": "x", "data": "nope"}]'),
    Fault(match="GET /users/1/items", body="[1, 2, 3]"),
])
def test_garbage_and_wrong_json_shapes_are_one_line(server, tmp_path, fault):
    server.faults.append(fault)
    result = sync(server, tmp_path)
    assert_one_line_error(result, "Zotero at users/1")
    assert API_KEY not in result.stdout + result.stderr


def test_backoff_without_content_type_is_announced_then_one_line(server, tmp_path):
    server.faults.append(Fault(match="GET /users/1/items", backoff="1", no_content_type=True))
    result = sync(server, tmp_path)
    assert "Traceback" not in result.stderr and result.returncode == 2
    notice, error = result.stderr.strip().splitlines()
    assert notice == "citewise: Zotero asks to wait 1 s before the next request; waiting"
    assert error.startswith("citewise: Zotero at users/1") and "not the JSON the Zotero API sends" in error


def test_the_key_never_leaks_on_a_refusal(server, tmp_path):
    result = sync(server, tmp_path, key="WrongKey0123456789abcdef")
    assert_one_line_error(result, "refused access", "(403)")
    assert "WrongKey0123456789abcdef" not in result.stdout + result.stderr
