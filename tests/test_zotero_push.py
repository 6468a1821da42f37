"""Adding cited papers to the library on the test server: no duplicates, whatever the network does."""

from __future__ import annotations

import time

import pytest
from zotero_server import Fault
from zotero_support import index, server, settings_for  # noqa: F401

from citewise.bib.errors import CitewiseError
from citewise.bib.model import Author, Reference
from citewise.bib.zotero.push import push_reference, push_references, zotero_item_from_reference
from citewise.bib.zotero.sync import sync_library


def paper(number: int = 1, **changes) -> Reference:
    values = dict(
        key=f"vaswani2017attention{number}", entry_type="inproceedings",
        title=f"Attention is all you need, part {number}",
        authors=[Author("Vaswani", "Ashish"), Author("Shazeer", "Noam")], year="2017",
        booktitle="Advances in Neural Information Processing Systems", pages="5998-6008",
        doi=f"10.5555/attention.{number}", keywords=["transformers"],
    )
    values.update(changes)
    return Reference(**values)


def items_titled(server, title: str) -> list[dict]:
    return [d for d in server.library.items.values() if d.get("title") == title]


def test_a_new_paper_is_created_in_the_chosen_collection(server):
    key = push_reference(settings_for(server, collection="LoC"), paper())
    created = server.library.items[key]
    assert created["itemType"] == "conferencePaper"
    assert created["proceedingsTitle"] == "Advances in Neural Information Processing Systems"
    assert created["DOI"] == "10.5555/attention.1"
    assert created["creators"][0] == {"creatorType": "author", "firstName": "Ashish", "lastName": "Vaswani"}
    assert "Citation Key: vaswani2017attention1" in created["extra"]
    assert created["collections"] == ["N7W92H48"]
    assert created["tags"] == [{"tag": "transformers"}]


def test_a_paper_already_in_the_library_is_not_created_again(server):
    first = push_reference(settings_for(server), paper())
    writes = len(server.requests_matching("POST"))
    assert push_reference(settings_for(server), paper(key="other")) == first
    preprint = paper(2, doi="", arxiv="1706.03762", entry_type="misc", title="Sparse transformers revisited")
    by_arxiv = push_reference(settings_for(server), preprint)
    assert server.library.items[by_arxiv]["itemType"] == "preprint"
    same_preprint = paper(9, doi="", arxiv="arXiv:1706.03762v5", title="Another title entirely")
    assert push_reference(settings_for(server), same_preprint) == by_arxiv
    retitled = paper(doi="", title="Attention Is All You Need -- Part 1")
    assert push_reference(settings_for(server), retitled) == first
    assert len(server.requests_matching("POST")) == writes + 1


def test_a_recorded_item_is_found_by_fuzzy_title_author_and_year(server):
    recorded = Reference(title="Sherlock Holmes in Babylon.", authors=[Author("Buck", "R. Creighton")],
                         year="1980", entry_type="article")
    assert push_reference(settings_for(server), recorded) == "PQKBRC33"
    other_year = Reference(title="Sherlock Holmes in Babylon", authors=[Author("Buck", "R. Creighton")],
                           year="1999", entry_type="article")
    assert push_reference(settings_for(server), other_year) != "PQKBRC33"


def test_many_papers_go_in_writes_of_at_most_fifty(server):
    keys = push_references(settings_for(server), [paper(n) for n in range(120)])
    assert len(set(keys)) == 120
    posts = server.requests_matching("POST")
    assert len(posts) == 3
    assert all(len(items_titled(server, f"Attention is all you need, part {n}")) == 1 for n in range(120))


def test_a_lost_write_response_is_retried_without_a_second_item(server):
    server.faults.append(Fault(match="POST", drop_after_write=True))
    key = push_reference(settings_for(server), paper())
    assert len(items_titled(server, paper().title)) == 1
    assert server.library.items[key]["title"] == paper().title
    posts = server.requests_matching("POST")
    assert len(posts) == 2
    assert posts[0].headers["Zotero-Write-Token"] == posts[1].headers["Zotero-Write-Token"]
    assert posts[1].status == 412


def test_a_write_that_times_out_is_retried_with_the_same_token(server):
    server.faults.append(Fault(match="POST", delay=1.0))
    key = push_reference(settings_for(server, timeout=0.3), paper())
    assert key in server.library.items
    posts = server.requests_matching("POST")
    assert len({p.headers["Zotero-Write-Token"] for p in posts}) == 1
    deadline = time.monotonic() + 5
    while len([p for p in posts if p.status]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(items_titled(server, paper().title)) == 1


def test_a_library_changed_under_the_write_is_refetched_and_retried_once(server):
    server.faults.append(Fault(match="POST", race=True))
    key = push_reference(settings_for(server), paper())
    assert len(items_titled(server, paper().title)) == 1 and key in server.library.items
    assert [r.status for r in server.requests_matching("POST")] == [412, 200]


def test_a_library_that_keeps_changing_stops_with_a_message(server):
    server.faults.append(Fault(match="POST", race=True, times=2))
    with pytest.raises(CitewiseError, match="412 twice"):
        push_reference(settings_for(server), paper())
    assert not items_titled(server, paper().title)


def test_server_errors_and_rate_limits_on_writes_are_retried(server):
    server.faults += [Fault(match="POST", status=500), Fault(match="POST", status=429, retry_after="1")]
    push_reference(settings_for(server), paper())
    assert len(items_titled(server, paper().title)) == 1


def test_refused_writes_name_the_reason(server):
    server.write_access = False
    with pytest.raises(CitewiseError, match="403") as refused:
        push_reference(settings_for(server), paper())
    assert "API key" in str(refused.value)
    with pytest.raises(CitewiseError, match="read-only"):
        push_reference(settings_for(server, local=True, library="users/0"), paper())
    with pytest.raises(CitewiseError, match="collection 'Nope' not found"):
        push_reference(settings_for(server, collection="Nope"), paper())


def test_a_pushed_paper_syncs_back_under_its_citation_key(server, index):
    sync_library(index, settings_for(server))
    zotero_key = push_reference(settings_for(server), paper())
    sync_library(index, settings_for(server))
    stored = index.get("vaswani2017attention1")
    assert stored is not None and stored.zotero_key == zotero_key


def test_item_data_uses_fields_the_item_type_has():
    report = zotero_item_from_reference(Reference(key="r", entry_type="techreport", title="T",
                                                  institution="MIT", number="42", doi="10.1/x"))
    assert report["itemType"] == "report" and report["institution"] == "MIT"
    assert "DOI" not in report and "DOI: 10.1/x" in report["extra"]
    article = zotero_item_from_reference(Reference(key="a", entry_type="article", title="A", journal="J",
                                                   number="3", arxiv="2101.00001"))
    assert (article["publicationTitle"], article["issue"]) == ("J", "3")
    assert "arXiv: 2101.00001" in article["extra"]
