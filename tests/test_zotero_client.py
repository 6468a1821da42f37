"""Connecting: library names, where the API key comes from, and that it never shows."""

from __future__ import annotations

import logging

import pytest
from zotero_server import Fault, ZoteroLibrary, ZoteroTestServer, synthetic_item
from zotero_support import API_KEY, index, server, settings_for  # noqa: F401

from citewise.bib.errors import CitewiseError
from citewise.bib.zotero.client import ZoteroSettings, find_api_key, make_settings, parse_library
from citewise.bib.zotero.sync import sync_library


def test_library_names():
    assert parse_library("users/475425") == ("user", "475425")
    assert parse_library("groups/12/") == ("group", "12")
    with pytest.raises(CitewiseError, match="users/123 or groups/45"):
        parse_library("475425")


def test_settings_take_the_key_and_endpoint_from_the_environment(monkeypatch):
    monkeypatch.setenv("ZOTERO_API_KEY", API_KEY)
    monkeypatch.setenv("CITEWISE_ZOTERO_ENDPOINT", "http://127.0.0.1:9/")
    settings = make_settings(library="groups/7")
    assert settings.api_key == API_KEY and settings.endpoint == "http://127.0.0.1:9/"
    assert API_KEY not in repr(settings)
    assert make_settings(library="users/1", api_key="from-editor").api_key == "from-editor"
    assert make_settings(local=True).library == "users/0"


def test_without_a_key_anywhere_there_is_none(monkeypatch):
    monkeypatch.delenv("ZOTERO_API_KEY", raising=False)
    assert find_api_key() in (None, "")
    with pytest.raises(CitewiseError, match="--library"):
        make_settings()


def test_the_key_is_sent_as_a_header_and_never_in_urls_messages_or_logs(server, index, caplog):
    caplog.set_level(logging.DEBUG)
    sync_library(index, settings_for(server))
    assert all(API_KEY not in r.path + str(r.query) for r in server.requests)
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"

    failures = []
    server.faults.append(Fault(match="format=versions", status=500, times=5))
    with pytest.raises(CitewiseError) as server_error:
        sync_library(index, settings_for(server, max_attempts=2))
    failures.append(str(server_error.value))
    with pytest.raises(CitewiseError) as unreachable:
        sync_library(index, ZoteroSettings(library="users/1", api_key=API_KEY, endpoint="http://127.0.0.1:9",
                                           max_attempts=2, retry_base_delay=0.01))
    failures.append(str(unreachable.value))
    with pytest.raises(CitewiseError) as forbidden:
        sync_library(index, settings_for(server, api_key=API_KEY[::-1]))
    failures.append(str(forbidden.value))
    assert "network error" in failures[1] and "403" in failures[2]
    for text in failures + [caplog.text]:
        assert API_KEY not in text and API_KEY[::-1] not in text


def test_the_desktop_app_local_api_is_read_under_api(index):
    library = ZoteroLibrary(library_type="users", library_id=0)
    library.add_items([synthetic_item(n) for n in range(3)])
    with ZoteroTestServer(library) as desktop:
        settings = ZoteroSettings(library="users/0", local=True, endpoint=f"{desktop.url}/api")
        summary = sync_library(index, settings)
        assert summary.added == 3
        assert all(r.path.startswith("/api/users/0/") for r in desktop.requests)
        assert index.get_meta("zotero:local/users/0:version") == str(library.version)


def test_another_desktop_database_means_a_full_sync(index):
    library = ZoteroLibrary(library_type="users", library_id=0)
    library.add_items([synthetic_item(n) for n in range(3)])
    with ZoteroTestServer(library) as desktop:
        desktop.server_id = "first-database"
        settings = ZoteroSettings(library="users/0", local=True, endpoint=f"{desktop.url}/api")
        sync_library(index, settings)
        library.add_items([synthetic_item(3)])
        assert sync_library(index, settings).added == 1
        desktop.server_id = "restored-database"
        desktop.requests.clear()
        sync_library(index, settings)
        assert desktop.requests[-2].query["since"] == "0"
        assert index.get_meta("zotero:local/users/0:server_id") == "restored-database"


def test_an_unreachable_or_refusing_desktop_app_is_explained(index):
    with ZoteroTestServer(ZoteroLibrary(library_id=0), api_key="only-for-others") as desktop:
        settings = ZoteroSettings(library="users/0", local=True, endpoint=f"{desktop.url}/api")
        with pytest.raises(CitewiseError, match="Allow other applications"):
            sync_library(index, settings)
    closed = ZoteroSettings(library="users/0", local=True, endpoint="http://127.0.0.1:9/api",
                            max_attempts=1)
    with pytest.raises(CitewiseError, match="is the Zotero desktop app running"):
        sync_library(index, closed)
