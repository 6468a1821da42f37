"""The Zotero commands of the language server against the Zotero test server on 127.0.0.1."""

from __future__ import annotations

import pytest
from features_support import make_workspace
from zotero_support import API_KEY, server  # noqa: F401  (the fixture)

from citewise.bib.errors import CitewiseError
from citewise.server.features import commands


@pytest.fixture
def zotero_ws(tmp_path, server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZOTERO_API_KEY", API_KEY)
    monkeypatch.setenv("CITEWISE_ZOTERO_ENDPOINT", server.url)
    library = f"{server.library.library_type}/{server.library.library_id}"
    return make_workspace(tmp_path, tmp_path / "index.sqlite", zotero_library=library, zotero_push=True)


def test_sync_fills_the_index_with_progress(zotero_ws):
    reports = []
    summary = commands.sync_zotero(zotero_ws, lambda message, percent: reports.append(message))
    assert summary["added"] == 20 and reports
    assert zotero_ws.index is not None and zotero_ws.index.count() == 20


def test_push_adds_a_cited_bib_entry_to_the_library_once(zotero_ws, server):  # noqa: F811
    zotero_ws.bib_state(str(zotero_ws.roots[0] + "/refs.bib"))
    before = len(server.library.top_level_items())
    item_key = commands.push_to_zotero(zotero_ws, "vaswaniAttentionAllYou2017")
    assert len(server.library.top_level_items()) == before + 1
    assert commands.push_to_zotero(zotero_ws, "vaswaniAttentionAllYou2017") == item_key


def test_a_refused_key_is_one_clear_error_without_the_secret(zotero_ws, monkeypatch):
    monkeypatch.setenv("ZOTERO_API_KEY", "wrong-key-0000")
    with pytest.raises(CitewiseError) as raised:
        commands.sync_zotero(zotero_ws, lambda message, percent: None)
    assert "wrong-key-0000" not in str(raised.value) and API_KEY not in str(raised.value)
