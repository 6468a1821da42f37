"""The registry clients against recorded answers on 127.0.0.1: parsing, search, faults, cache, offline."""

from __future__ import annotations

import json
import time

import pytest
from registry_server import FIXTURES, Fault
from registry_support import make_registries, registry, registry_server  # noqa: F401 (fixtures)

from citewise.bib.model import Author, Reference
from citewise.bib.registries.cache import TIME_LIMITS, ResponseCache
from citewise.bib.registries.http import RegistryUnavailable
from citewise.bib.registries.identifiers import find_identifier, normalize_isbn, parse_identifier
from citewise.bib.registries.matching import first_authors_agree, titles_agree
from citewise.bib.registries.resolve import resolve_text


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("10.1145/3448016.3452841", "doi", "10.1145/3448016.3452841"),
        ("doi:10.7554/eLife.01567", "doi", "10.7554/elife.01567"),
        ("https://doi.org/10.1016/S0140-6736(97)11096-0", "doi", "10.1016/s0140-6736(97)11096-0"),
        ("https://dx.doi.org/10.1109/iccv.2007.4408927", "doi", "10.1109/iccv.2007.4408927"),
        ("2310.13268", "arxiv", "2310.13268"),
        ("2310.13268v2", "arxiv", "2310.13268"),
        ("arXiv:hep-th/9901001v3", "arxiv", "hep-th/9901001"),
        ("https://arxiv.org/abs/1605.08386", "arxiv", "1605.08386"),
        ("https://arxiv.org/pdf/1605.08386v1.pdf", "arxiv", "1605.08386"),
        ("978-0-316-03057-1", "isbn", "9780316030571"),
        ("ISBN 0-316-03057-0", "isbn", "9780316030571"),
        ("PMID: 11850928", "pmid", "11850928"),
        ("https://pubmed.ncbi.nlm.nih.gov/11850928/", "pmid", "11850928"),
        ("Attention is all you need by Vaswani", "title", "Attention is all you need"),
    ],
)
def test_identifiers_in_the_forms_people_paste(text, kind, value):
    ident = parse_identifier(text)
    assert (ident.kind, ident.value) == (kind, value)


def test_an_isbn_with_a_wrong_check_digit_is_not_an_isbn():
    assert normalize_isbn("978-0-316-03057-2") == ""
    assert normalize_isbn("0-316-03057-1") == ""
    assert parse_identifier("978-0-316-03057-2").kind == "title"


def test_identifiers_found_inside_text():
    assert find_identifier("see \\cite{https://doi.org/10.1145/3448016.3452841}").value == "10.1145/3448016.3452841"
    assert find_identifier("arXiv:2310.13268v1, p. 3").value == "2310.13268"
    assert find_identifier("no identifier here") is None


def test_titles_agree_despite_markup_case_accents_and_subtitles():
    assert titles_agree("Heat-Bath Random Walks with {M}arkov Bases", "Heat-bath random walks with Markov bases")
    assert titles_agree("Caf{\\'e} Culture in {M}\\\"unchen", "Café culture in München")
    assert titles_agree("Vector Quotient Filters: Overcoming the Time/Space Trade-Off", "Vector Quotient Filters")
    assert titles_agree("RETRACTED: A study of things", "A study of things")
    assert not titles_agree("Scaling Laws for Sparse Mixture-of-Experts Transformers", "Vector Quotient Filters")
    assert not titles_agree("Vector Quotient Filters for Graphs", "Vector Quotient Filters")


def test_first_authors_agree_with_initials_particles_and_accents():
    assert first_authors_agree([Author("Müller", "J.")], [Author("Muller", "Jan")])
    assert first_authors_agree([Author("van der Waals", "J. D.")], [Author("Waals", "Johannes")])
    assert first_authors_agree([Author("Smith", "John")], [Author("Ralser", "Markus")]) is False
    assert first_authors_agree([], [Author("Ralser", "Markus")]) is None


def test_crossref_work_datacite_fallback_arxiv_book_and_pubmed(registry):
    with make_registries(registry) as registries:
        vqf = resolve_text("https://doi.org/10.1145/3448016.3452841", registries)
        arxiv_doi = resolve_text("10.48550/arXiv.2311.16162", registries)
        preprint = resolve_text("arXiv:astro-ph/0601001v1", registries)
        book = resolve_text("0-316-03057-0", registries)
        pubmed = resolve_text("PMID 11850928", registries)
    assert (vqf.reference.entry_type, vqf.reference.title, vqf.reference.year) == ("inproceedings", "Vector Quotient Filters", "2021")
    assert vqf.reference.booktitle.startswith("Proceedings of the 2021 International Conference")
    assert vqf.sources["authors"] == "crossref" and vqf.reference.authors[0] == Author("Pandey", "Prashant")
    assert arxiv_doi.sources["title"] == "datacite" and arxiv_doi.reference.arxiv == "2311.16162"
    assert preprint.reference.authors[0].family == "Gould" and preprint.reference.arxiv == "astro-ph/0601001"
    assert (book.reference.entry_type, book.reference.publisher, book.reference.year) == ("book", "Orbit", "2008")
    assert pubmed.reference.journal == "Archives of dermatology" and pubmed.reference.authors[0] == Author("LoPresti", "P. J.")
    assert registry.count("crossref") >= 2 and registry.count("datacite") == 1


def test_retraction_and_journal_ref_signals(registry):
    with make_registries(registry) as registries:
        retracted = registries.doi("10.1155/2022/8341966")
        preprint = registries.identifier(parse_identifier("astro-ph/0601001"))
    assert retracted.retracted_by == "10.1155/2023/9753475"
    assert preprint.journal_ref == "ActaAstron.56:1-50,2006"


def test_update_to_and_updated_by_are_both_read_and_only_retractions_count():
    """commonmeta's recorded PLOS Pathogens answer lists a `new_version` update in both relations,
    aimed at its own DOI: not a retraction. The same answer with that update typed `retraction`
    in only one of the relations is retracted either way; an `update-to` aimed at another DOI
    (the record is then the notice itself) says nothing about this work."""
    from citewise.bib.registries.crossref import work_from_message

    message = json.loads((FIXTURES / "crossref" / "10.1371_journal.ppat.1008184.json").read_text(encoding="utf-8"))["message"]
    [update] = message["update-to"]
    retraction = {**update, "type": "retraction", "label": "Retraction"}
    assert work_from_message(message).retracted_by == ""
    assert work_from_message({**message, "update-to": [], "updated-by": [retraction]}).retracted_by == "10.1371/journal.ppat.1008184"
    assert work_from_message({**message, "update-to": [retraction], "updated-by": []}).retracted_by == "Retraction"
    elsewhere = {**retraction, "DOI": "10.1371/journal.ppat.0000001"}
    assert work_from_message({**message, "update-to": [elsewhere], "updated-by": []}).retracted_by == ""


def test_a_search_answer_is_never_taken_without_an_agreeing_title(registry):
    with make_registries(registry) as registries:
        found = registries.title("Augmenting large language models with chemistry tools")
        near_miss = registries.title("Augmenting large language models with physics tools for robotics")
    assert [work.ref.doi for work in found][:1] == ["10.1038/s42256-024-00832-8"]
    assert near_miss == []
    assert any("query.bibliographic" in line for line in registry.requests)


def test_unknown_identifiers_are_no_such_work(registry):
    with make_registries(registry) as registries:
        assert registries.doi("10.9999/nothing.here") is None
        assert registries.identifier(parse_identifier("2104.99999")) is None
        assert registries.identifier(parse_identifier("PMID 99999999")) is None
        assert registries.identifier(parse_identifier("978-0-00-000000-2")) is None


def test_429_with_retry_after_is_waited_out(registry):
    registry.faults.append(Fault(match="/crossref/works/", status=429, retry_after="1"))
    with make_registries(registry) as registries:
        work = registries.doi("10.1145/3448016.3452841")
    assert work is not None and registry.count("crossref") == 2


def test_one_registrys_requests_are_spaced_and_a_retry_after_holds_them_all():
    """The gate every thread passes before asking a registry (arithmetic on given clock readings)."""
    from citewise.bib.registries.http import _Gate

    gate = _Gate()
    assert gate.reserve(3.0, now=100.0) == 0.0  # arXiv: one request every 3 s
    assert gate.reserve(3.0, now=100.5) == 2.5 and gate.reserve(3.0, now=100.5) == 5.5
    gate.hold(30.0, now=101.0)  # one thread is told Retry-After: 30
    assert gate.reserve(3.0, now=102.0) == 29.0  # another thread waits it out too


def test_a_retry_after_beyond_the_bound_gives_up_at_once(registry):
    registry.faults.append(Fault(match="/crossref/works/", status=503, retry_after="3600", times=5))
    with make_registries(registry) as registries, pytest.raises(RegistryUnavailable):
        registries.http.fetch("crossref", "/works/10.1145%2F3448016.3452841", {}, lambda status, body: body)
    assert registry.count("crossref") == 1


def test_server_errors_are_retried_with_backoff(registry):
    registry.faults.append(Fault(match="/datacite/", status=502, times=2))
    with make_registries(registry) as registries:
        work = registries.doi("10.48550/arXiv.1902.02534")
    assert work is not None and work.source == "datacite" and registry.count("datacite") == 3


def test_a_hung_connection_ends_in_unavailable(registry):
    registry.faults.append(Fault(match="/openlibrary/", hang=1.5, times=3))
    with make_registries(registry, timeout=0.3, max_attempts=3) as registries, pytest.raises(RegistryUnavailable, match="Timeout"):
        registries.identifier(parse_identifier("9780316030571"))
    assert registry.count("openlibrary") == 3


def test_malformed_json_is_retried_and_never_cached(registry, tmp_path):
    registry.faults.append(Fault(match="/crossref/works/10.1109", malformed=True))
    with make_registries(registry, cache_path=tmp_path / "cache.sqlite") as registries:
        work = registries.doi("10.1109/iccv.2007.4408927")
        again = registries.doi("10.1109/iccv.2007.4408927")
    assert work.ref.title == again.ref.title and work.ref.title.startswith("A Seeded Image Segmentation")
    assert registry.count("crossref") == 2


def test_always_malformed_answers_are_unavailable(registry):
    registry.faults.append(Fault(match="/pubmed/", malformed=True, times=10))
    with make_registries(registry, max_attempts=2) as registries, pytest.raises(RegistryUnavailable, match="unreadable"):
        registries.identifier(parse_identifier("PMID 11482001"))


def test_cached_answers_need_no_request_and_offline_uses_only_the_cache(registry, tmp_path):
    cache = tmp_path / "cache.sqlite"
    with make_registries(registry, cache_path=cache) as registries:
        registries.doi("10.1145/3448016.3452841")
        assert registries.doi("10.9999/nothing.here") is None
    sent = registry.count()
    with make_registries(registry, cache_path=cache, offline=True) as offline:
        assert offline.doi("10.1145/3448016.3452841").ref.title == "Vector Quotient Filters"
        assert offline.doi("10.9999/nothing.here") is None
        with pytest.raises(RegistryUnavailable, match="offline"):
            offline.doi("10.7554/elife.01567")
    assert registry.count() == sent


def test_each_outcome_keeps_for_its_own_time(tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cache.put("https://x/found", 200, "{}", "found")
    cache.put("https://x/missing", 404, "", "missing")
    cache.put("https://x/failed", 503, "", "failed")
    stored = cache.get("https://x/found").outcome
    later = time.time() + TIME_LIMITS["missing"] + 60
    assert stored == "found" and cache.get("https://x/failed") is None
    assert cache.get("https://x/found", now=later) is not None
    assert cache.get("https://x/missing", now=later) is None


def test_mailto_joins_the_polite_pool_but_not_the_cache_key(registry, tmp_path):
    with make_registries(registry, cache_path=tmp_path / "c.sqlite", mailto="me@example.org") as registries:
        registries.doi("10.1145/3448016.3452841")
        registries.doi("10.1145/3448016.3452841")
    assert [line for line in registry.requests if "mailto=me%40example.org" in line]
    assert registry.count("crossref") == 1


def test_verify_statuses_on_a_reference_without_identifiers(registry):
    from citewise.bib.registries.verify import check_reference

    ref = Reference(key="x", title="Heat-bath random walks with Markov bases", authors=[Author("Stanley", "C.")], year="2016")
    fake = Reference(key="y", title="A Completely Invented Study of Nothing in Particular", authors=[Author("Nobody", "A.")])
    with make_registries(registry) as registries:
        assert check_reference(ref, registries).status == "verified"
        assert check_reference(fake, registries).status == "not-found"


def test_public_registries_are_paced_and_mirrors_are_not(monkeypatch):
    from citewise.bib.registries.http import RegistrySettings

    for name in ("CROSSREF", "ARXIV"):
        monkeypatch.delenv(f"CITEWISE_{name}_URL", raising=False)
    monkeypatch.setenv("CITEWISE_ARXIV_URL", "http://127.0.0.1:9/arxiv")
    settings = RegistrySettings.from_environment()
    assert settings.url("crossref") == "https://api.crossref.org" and settings.min_interval["crossref"] == 0.1
    assert settings.url("arxiv") == "http://127.0.0.1:9/arxiv" and settings.min_interval["arxiv"] == 0.0
