"""Incremental pull from the test server into a real index file, with faults from the network."""

from __future__ import annotations

import json

import pytest
from zotero_server import Fault, ZoteroLibrary, ZoteroTestServer, load_recorded_items, synthetic_item
from zotero_support import (
    WEB_LIBRARY_RESPONSES,
    index,  # noqa: F401  (a fixture)
    index_view,
    library_view,
    server,  # noqa: F401  (a fixture)
    settings_for,
)

from citewise.bib.errors import CitewiseError
from citewise.bib.index.store import Index
from citewise.bib.zotero.sync import library_status, sync_library


def test_first_sync_brings_every_item_with_its_zotero_key(server, index):
    summary = sync_library(index, settings_for(server))
    assert summary.added == 20 and summary.updated == 0 and summary.deleted == 0
    assert summary.version == server.library.version
    assert summary.requests == 2
    view = index_view(index)
    assert set(view) == library_view(server.library)
    stored = index.get(view["X42A7DEE"][0])
    assert stored.title.startswith("Electron Microscopy and Analysis 1993")
    assert stored.origin.source == "zotero:users/1"


def test_incremental_sync_applies_edits_additions_trash_and_deletions(server, index):
    sync_library(index, settings_for(server))
    library = server.library
    library.update_item("PQKBRC33", title="Sherlock Holmes in Nineveh")
    library.delete_item("NM66T6EF")
    library.trash_item("Z8N84QAJ")
    [new_key] = library.add_items([synthetic_item(7)])
    server.requests.clear()

    summary = sync_library(index, settings_for(server))

    assert (summary.added, summary.updated, summary.deleted) == (1, 1, 2)
    assert summary.requests == 3
    view = index_view(index)
    assert set(view) == library_view(library)
    assert view["PQKBRC33"][1] == "Sherlock Holmes in Nineveh"
    assert new_key in view and "NM66T6EF" not in view and "Z8N84QAJ" not in view
    fetched = [r.query["itemKey"] for r in server.requests if "itemKey" in r.query]
    assert sorted(",".join(fetched).split(",")) == sorted(["PQKBRC33", "Z8N84QAJ", new_key])


def test_an_unchanged_library_costs_two_requests_and_changes_nothing(server, index):
    sync_library(index, settings_for(server))
    before = index_view(index)
    summary = sync_library(index, settings_for(server))
    assert (summary.added, summary.updated, summary.deleted, summary.requests) == (0, 0, 0, 2)
    assert index_view(index) == before


def test_citation_keys_come_from_zotero_and_never_change(server, index):
    library = server.library
    library.update_item("PQKBRC33", extra="Citation Key: holmes1995babylon")
    library.update_item("Z8N84QAJ", citationKey="doyle2006annotated")
    sync_library(index, settings_for(server))
    view = index_view(index)
    assert view["PQKBRC33"][0] == "holmes1995babylon"
    assert view["Z8N84QAJ"][0] == "doyle2006annotated"
    generated = view["GIFZST3I"][0]

    library.update_item("GIFZST3I", title="Cell recognition, revised", date="2001")
    library.update_item("PQKBRC33", extra="Citation Key: somethingElse")
    sync_library(index, settings_for(server))
    view = index_view(index)
    assert view["GIFZST3I"][0] == generated
    assert view["GIFZST3I"][1] == "Cell recognition, revised"
    assert view["PQKBRC33"][0] == "holmes1995babylon"


def test_a_restored_item_gets_its_old_key_back(server, index):
    sync_library(index, settings_for(server))
    key = index_view(index)["GIFZST3I"][0]
    server.library.trash_item("GIFZST3I")
    sync_library(index, settings_for(server))
    assert "GIFZST3I" not in index_view(index)
    server.library.update_item("GIFZST3I", deleted=0)
    sync_library(index, settings_for(server))
    assert index_view(index)["GIFZST3I"][0] == key


def test_full_resync_equals_incremental_syncs(server, tmp_path):
    library = server.library
    with Index.open(tmp_path / "incremental.sqlite") as incremental:
        sync_library(incremental, settings_for(server))
        library.add_items([synthetic_item(n) for n in range(30)])
        sync_library(incremental, settings_for(server))
        library.update_item("PQKBRC33", title="Renamed")
        library.delete_item("NM66T6EF")
        library.trash_item("ICK5M93W")
        sync_library(incremental, settings_for(server))
        after_incremental = index_view(incremental)
        assert set(after_incremental) == library_view(library)

        summary = sync_library(incremental, settings_for(server), full=True)
        assert (summary.added, summary.deleted) == (0, 0)
        assert index_view(incremental) == after_incremental

        library.delete_item("PQKBRC33")
        assert sync_library(incremental, settings_for(server), full=True).deleted == 1
        with Index.open(tmp_path / "fresh.sqlite") as fresh:
            sync_library(fresh, settings_for(server), full=True)
            assert _without_keys(index_view(fresh)) == _without_keys(index_view(incremental))


def _without_keys(view: dict[str, tuple]) -> dict[str, tuple]:
    """Generated citation keys depend on what the item looked like when first seen."""
    return {zotero_key: fields[1:] for zotero_key, fields in view.items()}


def test_attachments_notes_and_annotations_are_skipped_but_parents_kept(index):
    library = ZoteroLibrary()
    [parent] = library.add_items([synthetic_item(1)])
    library.add_items([
        {"itemType": "note", "note": "<p>loose note</p>"},
        {"itemType": "attachment", "parentItem": parent, "title": "Full text PDF", "linkMode": "imported_url"},
        {"itemType": "note", "parentItem": parent, "note": "<p>child note</p>"},
    ])
    with ZoteroTestServer(library) as server:
        summary = sync_library(index, settings_for(server, api_key=None))
        assert summary.added == 1
        assert set(index_view(index)) == {parent}
        assert sync_library(index, settings_for(server, api_key=None)).requests == 2


def test_recorded_web_library_items_with_attachments(index):
    recorded = WEB_LIBRARY_RESPONSES / "test-user-get-items-in-collection-algorithms.json"
    if not recorded.exists():
        pytest.skip("../shared web-library responses (AGPL) are absent; they may not be copied")
    library = ZoteroLibrary()
    datas = load_recorded_items(recorded)
    library.add_items(datas)
    with ZoteroTestServer(library) as server:
        sync_library(index, settings_for(server, api_key=None))
        view = index_view(index)
    regular = {d["key"] for d in datas if d["itemType"] not in ("attachment", "note", "annotation")}
    assert set(view) == regular
    assert all(view[k][1] for k in regular)


def test_rate_limits_server_errors_and_dropped_connections_are_survived(server, index):
    server.library.add_items([synthetic_item(n) for n in range(120)])
    server.faults += [
        Fault(match="format=versions", status=429, retry_after="1"),
        Fault(match="itemKey", status=500),
        Fault(match="itemKey", status=503, times=2),
        Fault(match="itemKey", drop=True),
        Fault(match="itemKey", drop=True),
    ]
    summary = sync_library(index, settings_for(server, max_attempts=6))
    assert summary.added == 140
    assert not server.faults
    assert set(index_view(index)) == library_view(server.library)


def test_backoff_header_is_honoured_before_the_next_request(server, index):
    server.faults.append(Fault(match="format=versions", backoff="1"))
    sync_library(index, settings_for(server))
    listing, fetch = server.requests[0], server.requests[1]
    assert "itemKey" in fetch.query
    assert fetch.at - listing.at >= 0.9


def test_persistent_server_failure_stops_with_a_clear_message(server, index):
    server.faults.append(Fault(match="format=versions", status=500, times=10))
    with pytest.raises(CitewiseError) as failure:
        sync_library(index, settings_for(server, max_attempts=3))
    message = str(failure.value)
    assert "users/1" in message and "HTTP 500" in message and "3 attempt" in message
    assert len(server.requests) == 3
    assert index.get_meta("zotero:users/1:version") is None


def test_wrong_key_and_wrong_library_are_named_without_leaking_the_key(server, index):
    with pytest.raises(CitewiseError, match="403") as forbidden:
        sync_library(index, settings_for(server, api_key="not-the-right-key-123"))
    assert "not-the-right-key-123" not in str(forbidden.value)
    assert "API key" in str(forbidden.value)
    with pytest.raises(CitewiseError, match="404") as missing:
        sync_library(index, settings_for(server, library="groups/4242"))
    assert "groups/4242" in str(missing.value)


def test_an_interrupted_sync_resumes_without_loss_or_double_application(server, index):
    library = server.library
    library.add_items([synthetic_item(n) for n in range(200)])
    server.faults.append(Fault(match="itemKey", status=500, times=100))
    server.faults.insert(0, Fault(match="itemKey", times=2))
    with pytest.raises(CitewiseError):
        sync_library(index, settings_for(server, max_attempts=1))
    assert index.get_meta("zotero:users/1:version") is None
    assert len(index_view(index)) == 100
    server.faults.clear()
    server.requests.clear()

    summary = sync_library(index, settings_for(server))

    assert summary.added == 120 and summary.updated == 0
    refetched = ",".join(r.query["itemKey"] for r in server.requests if "itemKey" in r.query).split(",")
    assert len(refetched) == 120
    assert set(index_view(index)) == library_view(library)
    assert library_status(index) == [{"library": "users/1", "version": library.version, "items": 220,
                                      "last_sync": library_status(index)[0]["last_sync"]}]


def test_an_edit_landing_mid_sync_is_neither_lost_nor_applied_twice(server, index):
    server.faults.append(Fault(match="itemKey", race=True))
    first = sync_library(index, settings_for(server))
    touched_version = server.library.version
    assert first.version == touched_version - 1
    summary = sync_library(index, settings_for(server))
    assert (summary.added, summary.updated) == (0, 0)
    assert json.loads(index.get_meta("zotero:users/1:version")) == touched_version
    assert set(index_view(index)) == library_view(server.library)


def test_a_library_whose_version_went_backwards_is_fully_resynced(index):
    newer = ZoteroLibrary()
    newer.add_items([synthetic_item(n) for n in range(5)])
    newer.add_items([synthetic_item(n) for n in range(5, 8)])
    with ZoteroTestServer(newer) as server:
        sync_library(index, settings_for(server, api_key=None))
    restored = ZoteroLibrary()
    restored.add_items([synthetic_item(n) for n in range(4)])
    with ZoteroTestServer(restored) as server:
        summary = sync_library(index, settings_for(server, api_key=None))
    assert summary.deleted == 8 and summary.added == 4
    assert set(index_view(index)) == library_view(restored)
