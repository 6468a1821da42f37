"""Shared pieces of the Zotero tests: a seeded test server, settings pointing at it, index snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from zotero_server import FIXTURES, ZoteroLibrary, ZoteroTestServer, load_recorded_items

from citewise.bib.index.store import Index
from citewise.bib.zotero.client import ZoteroSettings

API_KEY = "k3yS3cr3tZoteroApiKey0123456789ab"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEB_LIBRARY_RESPONSES = SHARED / "corpus" / "zotero" / "web-library_api_responses"


def seeded_library() -> ZoteroLibrary:
    """The recorded 20-item "Z public library" plus its 15 collections."""
    library = ZoteroLibrary()
    library.add_items(load_recorded_items(FIXTURES / "items_doc.json"))
    for obj in json.loads((FIXTURES / "collections_doc.json").read_text()):
        library.add_collection(obj["data"]["name"], key=obj["data"]["key"])
    return library


@pytest.fixture
def server():
    with ZoteroTestServer(seeded_library(), api_key=API_KEY) as running:
        yield running


@pytest.fixture
def index(tmp_path):
    with Index.open(tmp_path / "index.sqlite") as opened:
        yield opened


def settings_for(server: ZoteroTestServer, **overrides) -> ZoteroSettings:
    """Settings for the test server, with retry waits short enough for tests."""
    values = dict(library=f"{server.library.library_type}/{server.library.library_id}", api_key=API_KEY,
                  endpoint=server.url, retry_base_delay=0.01, retry_max_delay=0.05)
    values.update(overrides)
    return ZoteroSettings(**values)


def index_view(index: Index) -> dict[str, tuple]:
    """Zotero key -> (citation key, title, year, DOI) for every Zotero reference in the index."""
    view = {}
    for ref in index.iter_references():
        if ref.zotero_key:
            assert ref.zotero_key not in view, f"duplicate Zotero item {ref.zotero_key}"
            view[ref.zotero_key] = (ref.key, ref.title, ref.year, ref.doi)
    return view


def library_view(library: ZoteroLibrary) -> set[str]:
    """Keys of the library's items that should be references: top-level, not trashed, not notes."""
    return {
        key for key, data in library.top_level_items(include_trashed=False).items()
        if data["itemType"] not in ("note", "attachment", "annotation")
    }
