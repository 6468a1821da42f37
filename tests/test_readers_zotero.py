"""Zotero item JSON: Web API `format=json` items and Better BibTeX JSON exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citewise.bib.readers import read_path
from citewise.bib.readers.zotero_json import reference_from_zotero_item

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "readers"
WEB_LIBRARY = REPO.parent / "shared" / "corpus" / "zotero" / "web-library_api_responses"


def _by_zotero_key(result) -> dict:
    return {ref.zotero_key: ref for ref in result.references}


def test_web_api_item_list_maps_every_regular_item():
    path = FIXTURES / "zotero-web-api-items.json"
    result = read_path(path)

    assert result.errors == []
    items = json.loads(path.read_text(encoding="utf-8"))
    assert len(result.references) == len(items) == 20
    refs = _by_zotero_key(result)
    article = refs["PQKBRC33"]
    assert article.entry_type == "article"
    assert article.title == "Sherlock Holmes in Babylon"
    assert article.journal == "The American Mathematical Monthly"
    assert article.doi == "10.2307/2321200"
    assert (article.year, article.date) == ("1980", "1980-05-01")
    assert [a.family for a in article.authors] == ["R. Creighton Buck"]
    assert article.origin.source == str(path)

    paper = refs["R39UWNFK"]
    assert paper.entry_type == "inproceedings"
    assert paper.booktitle.startswith("IEEE Conference Record - Abstracts. 2002 IEEE International Conference")
    assert paper.journal == ""
    assert [a.family for a in paper.authors] == ["Leveille", "Boulos", "Gravelle"]
    assert refs["85MTWF4F"].year == "2007"
    assert refs["2SS8NXZI"].entry_type == "unpublished"
    assert refs["NM66T6EF"].entry_type == "misc"
    assert refs["6MCAN2NC"].authors[0].family == "Fanatico"
    assert refs["6MCAN2NC"].date == "2008-12-14"


def test_web_api_keys_are_generated_and_unique_within_the_read():
    result = read_path(FIXTURES / "zotero-web-api-items.json")

    keys = [ref.key for ref in result.references]
    assert all(keys)
    assert len(set(keys)) == len(keys)


def test_a_single_web_api_item_with_organisation_author_tags_and_book_fields():
    result = read_path(FIXTURES / "zotero-web-api-item.json")

    [book] = result.references
    assert book.entry_type == "book"
    assert book.zotero_key == "X42A7DEE"
    assert book.authors[0].literal and book.authors[0].family == "Institute of Physics (Great Britain)"
    assert len(book.authors) == 1
    assert book.publisher == "Institute of Physics Pub"
    assert book.keywords == ["Analysis", "Congresses", "Electron microscopy", "Materials", "Microscopy"]
    assert book.extra_fields == {
        "series": "Institute of Physics conference series",
        "address": "Bristol, UK",
        "isbn": "0750303212",
    }
    assert book.origin.line == 1


def test_better_bibtex_export_keeps_citation_keys_and_finds_arxiv_ids_in_extra():
    keyed = read_path(FIXTURES / "bbt-export-citationkey.json")
    assert [ref.key for ref in keyed.references] == ["MunafAClarkFlint05"]
    assert keyed.references[0].pages == "415-419"
    assert keyed.references[0].year == "2005"

    arxiv = read_path(FIXTURES / "bbt-export-arxiv.json")
    assert arxiv.errors == []
    assert [ref.arxiv for ref in arxiv.references] == ["1305.4904", "1508.05387", "1401.2910"]
    sen = arxiv.references[1]
    assert sen.doi == "10.1007/jhep02(2016)087"
    assert sen.journal == "Journal of High Energy Physics"
    assert "superstring field theory" in sen.keywords
    assert [ref.origin.line for ref in arxiv.references] == sorted(ref.origin.line for ref in arxiv.references)


@pytest.mark.parametrize("item_type", ["note", "attachment", "annotation"])
def test_notes_attachments_and_annotations_are_not_references(item_type):
    assert reference_from_zotero_item({"key": "AAAA1111", "itemType": item_type, "title": "x"}) is None


def test_citation_key_comes_from_the_field_then_extra_then_the_formula():
    base = {
        "key": "ABCD1234",
        "itemType": "journalArticle",
        "title": "Deep Residual Learning for Image Recognition",
        "creators": [{"creatorType": "author", "firstName": "Kaiming", "lastName": "He"}],
        "date": "2016-06",
    }

    native = reference_from_zotero_item({**base, "citationKey": "he2016deep", "extra": "Citation Key: pinned2016"})
    pinned = reference_from_zotero_item({**base, "extra": "tex.note: x\nCitation Key: pinned2016\nDOI: 10.1109/CVPR.2016.90"})
    formula = reference_from_zotero_item(base)

    assert native.key == "he2016deep"
    assert pinned.key == "pinned2016"
    assert pinned.doi == "10.1109/cvpr.2016.90"
    assert formula.key and formula.key not in ("he2016deep", "pinned2016")
    assert formula.key.lower().startswith("he")
    assert formula.zotero_key == "ABCD1234"
    assert formula.origin is not None
    assert (formula.year, formula.date) == ("2016", "2016-06")


@pytest.mark.parametrize(
    ("fields", "arxiv"),
    [
        ({"itemType": "preprint", "archiveID": "arXiv:2106.09685", "repository": "arXiv"}, "2106.09685"),
        ({"itemType": "journalArticle", "extra": "arXiv: 1706.03762"}, "1706.03762"),
        ({"itemType": "webpage", "url": "https://arxiv.org/abs/2005.14165v4"}, "2005.14165"),
        ({"itemType": "journalArticle", "DOI": "10.48550/arXiv.2303.08774"}, "2303.08774"),
        ({"itemType": "journalArticle", "url": "https://example.org/2106.09685"}, ""),
    ],
)
def test_arxiv_ids_are_found_where_zotero_keeps_them(fields, arxiv):
    ref = reference_from_zotero_item({"key": "K", "title": "T", **fields})

    assert ref.arxiv == arxiv


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"itemType": "journalArticle", "publicationTitle": "Nature"}, ("article", "journal", "Nature")),
        ({"itemType": "conferencePaper", "proceedingsTitle": "Proc. NeurIPS"}, ("inproceedings", "booktitle", "Proc. NeurIPS")),
        ({"itemType": "bookSection", "bookTitle": "Handbook"}, ("incollection", "booktitle", "Handbook")),
        ({"itemType": "bookSection", "publicationTitle": "Handbook"}, ("incollection", "booktitle", "Handbook")),
        ({"itemType": "book", "publisher": "MIT Press"}, ("book", "publisher", "MIT Press")),
        ({"itemType": "thesis", "university": "ETH Zürich"}, ("phdthesis", "institution", "ETH Zürich")),
        ({"itemType": "thesis", "university": "KTH", "thesisType": "Master's thesis"}, ("mastersthesis", "institution", "KTH")),
        ({"itemType": "report", "institution": "RAND", "reportNumber": "R-1"}, ("techreport", "institution", "RAND")),
        ({"itemType": "report", "reportNumber": "TR-17"}, ("techreport", "number", "TR-17")),
        ({"itemType": "preprint", "repository": "arXiv"}, ("misc", "publisher", "arXiv")),
        ({"itemType": "manuscript"}, ("unpublished", "title", "T")),
        ({"itemType": "webpage", "url": "https://x.org"}, ("misc", "url", "https://x.org")),
        ({"itemType": "computerProgram", "company": "ACME"}, ("misc", "publisher", "ACME")),
    ],
)
def test_item_types_and_fields_map_to_bibtex(fields, expected):
    entry_type, field_name, value = expected

    ref = reference_from_zotero_item({"key": "K", "title": "T", **fields})

    assert ref.entry_type == entry_type
    assert getattr(ref, field_name) == value


def test_creators_split_into_authors_editors_and_literal_names():
    ref = reference_from_zotero_item(
        {
            "key": "K",
            "itemType": "bookSection",
            "title": "Chapter",
            "creators": [
                {"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"},
                {"creatorType": "editor", "firstName": "Charles", "lastName": "Babbage"},
                {"creatorType": "bookAuthor", "firstName": "Other", "lastName": "Person"},
                {"creatorType": "author", "name": "The ACME Consortium"},
            ],
            "tags": [{"tag": "engines"}, {"tag": "history", "type": 1}],
        }
    )

    assert [a.display() for a in ref.authors] == ["Lovelace, Ada", "The ACME Consortium"]
    assert ref.authors[1].literal
    assert [a.display() for a in ref.editors] == ["Babbage, Charles"]
    assert ref.keywords == ["engines", "history"]


def test_web_library_recorded_items_skip_notes_and_annotations():
    if not WEB_LIBRARY.is_dir():
        pytest.skip("../shared is absent: the web-library responses (AGPL) may not be copied here")

    golden = read_path(WEB_LIBRARY / "test-user-get-items-golden.json")
    raw = json.loads((WEB_LIBRARY / "test-user-get-items-golden.json").read_text(encoding="utf-8"))
    regular = [item for item in raw if item["data"]["itemType"] not in ("note", "attachment", "annotation")]
    assert golden.errors == []
    assert sorted(ref.zotero_key for ref in golden.references) == sorted(item["key"] for item in regular)
    assert all(ref.title for ref in golden.references)

    annotations = json.loads((WEB_LIBRARY / "annotation-item.json").read_text(encoding="utf-8"))
    assert all(reference_from_zotero_item(item["data"]) is None for item in annotations)
