"""`citewise resolve` and `citewise verify` as users run them, against the registries on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from registry_server import Fault
from registry_support import registry, registry_env, registry_server  # noqa: F401 (fixtures)

from citewise.server.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
EXPECTED = {
    "pandey2021vqf": "verified",
    "sankar2014histology": "verified",
    "han2022music": "retracted",
    "gould2006hotjupiters": "superseded",
    "vqf2021again": "duplicate",
    "bran2024chemcrow": "incomplete",
    "liu2021contrastive": "not-found",
    "zhang2014scaling": "mismatch",
    "stanley2016heatbath": "verified",
    "okafor2019quantum": "not-found",
    "doe2021agents": "not-found",
    "banks2008weapons": "verified",
    "smith2006triose": "mismatch",
}


@pytest.fixture(autouse=True)
def no_default_index(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_INDEX", str(tmp_path / "no-index-here.sqlite"))


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_resolve_prints_the_entry_under_a_formula_key(capsys, registry_env):
    code, out, err = run(capsys, "resolve", "https://doi.org/10.1145/3448016.3452841", "arXiv:1605.08386v1")
    assert code == 0 and err == ""
    assert out.startswith("@inproceedings{pandeyVectorQuotientFilters2021,\n")
    assert "@misc{stanleyHeatBathRandom2016," in out and "eprint = {1605.08386}" in out


def test_resolve_json_says_where_each_field_came_from(capsys, registry_env):
    code, out, _ = run(capsys, "resolve", "978-0-316-03057-1", "--json")
    [record] = json.loads(out)
    assert code == 0
    assert record["key"] == "banksUseWeapons2008" and record["identifier"] == {"kind": "isbn", "value": "9780316030571"}
    assert record["fields"]["publisher"] == "Orbit" and record["sources"]["publisher"] == "openlibrary"


def test_resolve_adds_to_a_bib_with_a_minimal_edit_and_only_once(capsys, registry_env, tmp_path):
    (tmp_path / "paper").mkdir()
    bib = tmp_path / "paper" / "refs.bib"
    original = "% my notes\n@misc{zzz,\n  title = {Last}\n}\n"
    bib.write_text(original, encoding="utf-8")
    code, _, err = run(capsys, "resolve", "10.7554/eLife.01567", "--bib", bib)
    text = bib.read_text(encoding="utf-8")
    assert code == 0 and err == ""
    assert text.startswith(original) and "@article{sankarAutomatedQuantitativeHistology2014," in text
    code, _, err = run(capsys, "resolve", "doi:10.7554/elife.01567", "--bib", bib)
    assert code == 0 and "already has this work as sankarAutomatedQuantitativeHistology2014" in err
    assert bib.read_text(encoding="utf-8") == text
    assert [p.name for p in bib.parent.iterdir()] == ["refs.bib"]


def test_resolve_a_title_with_its_first_author(capsys, registry_env):
    code, out, err = run(capsys, "resolve", "Heat-bath random walks with Markov bases by Stanley")
    assert code == 0 and err == "" and out.startswith("@misc{stanleyHeatBathRandom2016,\n")
    code, out, err = run(capsys, "resolve", "Heat-bath random walks with Markov bases by Okafor")
    assert code == 1 and out == ""
    assert err == "citewise: Heat-bath random walks with Markov bases by Okafor: no registry has a work titled 'Heat-bath random walks with Markov bases' by Okafor\n"


def test_resolve_reports_unknown_identifiers_in_one_line(capsys, registry_env):
    code, out, err = run(capsys, "resolve", "10.9999/invented.2024", "Heat-bath random walks with Markov bases")
    assert code == 1
    assert err.strip() == "citewise: 10.9999/invented.2024: no registry knows DOI 10.9999/invented.2024"
    assert "stanleyHeatBathRandom2016" in out


def test_resolve_refuses_a_folder_as_bib(capsys, registry_env, tmp_path):
    code, _, err = run(capsys, "resolve", "10.7554/eLife.01567", "--bib", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "not a regular file" in err


def test_verify_reports_one_finding_per_entry(capsys, registry_env):
    code, out, err = run(capsys, "verify", FIXTURES / "references.bib", "--json")
    findings = json.loads(out)
    assert code == 1 and err == ""
    assert {finding["key"]: finding["status"] for finding in findings} == EXPECTED
    by_key = {finding["key"]: finding for finding in findings}
    assert by_key["han2022music"]["line"] == 22
    assert "10.1155/2023/9753475" in by_key["han2022music"]["detail"]
    assert by_key["vqf2021again"]["fix"] == {"title": "Merge into pandey2021vqf", "keep": "pandey2021vqf", "remove": "vqf2021again", "citations": []}
    assert "journal = {Nature Machine Intelligence}" in by_key["bran2024chemcrow"]["fix"]["entry"]
    assert by_key["bran2024chemcrow"]["fix"]["entry"].startswith("@article{bran2024chemcrow,")
    assert "Sankar et al. 2014" in by_key["zhang2014scaling"]["detail"]
    assert "Ralser" in by_key["smith2006triose"]["detail"]
    assert by_key["smith2006triose"]["fix"]["entry"].startswith("@article{smith2006triose,\n  author = {Ralser, Markus and Heeren")


def test_verify_a_draft_checks_only_what_it_cites(capsys, registry_env, tmp_path):
    shutil.copy(FIXTURES / "references.bib", tmp_path / "refs.bib")
    (tmp_path / "paper.tex").write_text("Filters \\cite{pandey2021vqf} and books \\citep{banks2008weapons}.\n\\bibliography{refs}\n", encoding="utf-8")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    code, out, err = run(capsys, "verify", tmp_path / "paper.tex")
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before  # verify writes nothing
    assert [line.split(": ")[1:3] for line in lines] == [["pandey2021vqf", "verified"], ["banks2008weapons", "verified"]]
    assert lines[0].startswith(f"{tmp_path / 'refs.bib'}:5: ")


def test_a_duplicates_fix_names_each_citation_to_rename(capsys, registry_env, tmp_path):
    shutil.copy(FIXTURES / "references.bib", tmp_path / "refs.bib")
    intro = "Again \\citep[p.~2]{banks2008weapons, vqf2021again}.\n"
    paper = "Filters \\cite{pandey2021vqf} and \\cite{vqf2021again}.\n\\input{intro}\n\\bibliography{refs}\n"
    (tmp_path / "intro.tex").write_text(intro, encoding="utf-8")
    (tmp_path / "paper.tex").write_text(paper, encoding="utf-8")
    code, out, _ = run(capsys, "verify", tmp_path / "paper.tex", "--json")
    [duplicate] = [finding for finding in json.loads(out) if finding["status"] == "duplicate"]
    assert code == 0 and duplicate["key"] == "vqf2021again" and duplicate["fix"]["keep"] == "pandey2021vqf"
    assert duplicate["fix"]["citations"] == [
        {"file": str(tmp_path / "paper.tex"), "line": 1, "column": paper.index("vqf2021again") + 1},
        {"file": str(tmp_path / "intro.tex"), "line": 1, "column": intro.index("vqf2021again") + 1}]
    _, text, _ = run(capsys, "verify", tmp_path / "paper.tex")
    assert f"    cite pandey2021vqf at {tmp_path / 'intro.tex'}:1:{intro.index('vqf2021again') + 1}\n" in text


def test_verify_offline_with_nothing_cached_is_unverifiable_not_an_error(capsys, registry_env):
    code, out, _ = run(capsys, "verify", FIXTURES / "references.bib", "--offline", "--json")
    statuses = {finding["status"] for finding in json.loads(out)}
    assert code == 0 and statuses == {"unverifiable", "duplicate"}
    assert registry_env.count() == 0


def test_verify_offline_vouches_for_entries_synced_from_zotero(capsys, registry_env, tmp_path):
    """--offline asks no registry: an entry the index holds from a Zotero sync is verified, the rest unverifiable."""
    from citewise.bib.index.store import Index
    from citewise.bib.model import Author, Reference

    index_path = tmp_path / "index.sqlite"
    with Index.open(index_path) as index:
        index.upsert(Reference(key="banksUseWeapons2008", title="Use of Weapons", authors=[Author("Banks", "Iain M.")],
                               year="2008", entry_type="book", zotero_key="ABCD2345"))
    code, out, _ = run(capsys, "verify", FIXTURES / "references.bib", "--offline", "--json", "--index", index_path)
    statuses = {finding["key"]: (finding["status"], finding["detail"]) for finding in json.loads(out)}
    assert code == 0 and registry_env.count() == 0
    assert statuses["banks2008weapons"][0] == "verified" and statuses["banks2008weapons"][1].startswith("in your Zotero library")
    assert statuses["pandey2021vqf"][0] == "unverifiable"


def test_verify_after_a_run_offline_answers_from_the_cache(capsys, registry_env):
    run(capsys, "verify", FIXTURES / "references.bib")
    sent = registry_env.count()
    code, out, _ = run(capsys, "verify", FIXTURES / "references.bib", "--offline", "--json")
    assert code == 1 and {f["key"]: f["status"] for f in json.loads(out)} == EXPECTED
    assert registry_env.count() == sent


def test_verify_bad_inputs_get_one_line_each(capsys, registry_env, tmp_path):
    binary = tmp_path / "image.bib"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    code, out, err = run(capsys, "verify", binary, notes, tmp_path / "missing.tex")
    lines = err.splitlines()
    assert code == 0 and out == ""
    assert len(lines) == 3 and "Traceback" not in err
    assert lines[0].startswith(str(binary)) and lines[1].startswith(str(notes)) and "missing.tex" in lines[2]


def test_verify_asks_concurrently_but_never_more_than_the_bound(capsys, registry_env, tmp_path):
    """Twelve entries, each answer held back a moment: several requests overlap, never more than MAX_WORKERS."""
    from citewise.bib.registries import MAX_WORKERS

    dois = sorted(path.stem.replace("_", "/", 1) for path in (FIXTURES.parent / "registries" / "crossref").glob("10.*.json"))[:12]
    bib = tmp_path / "many.bib"
    bib.write_text("".join(f"@misc{{entry{i},\n  doi = {{{doi}}}\n}}\n\n" for i, doi in enumerate(dois)), encoding="utf-8")
    registry_env.faults.append(Fault(match="/crossref/works/10.", hang=0.3, times=len(dois)))
    code, out, err = run(capsys, "verify", bib, "--json")
    assert err == "" and len(json.loads(out)) == len(dois)
    assert registry_env.count("crossref") >= len(dois)
    assert 1 < registry_env.peak_in_flight <= MAX_WORKERS


def test_verify_proposes_the_published_version_and_the_work_the_title_names(capsys, registry_env):
    """A bioRxiv preprint whose recorded Crossref answer says `is-preprint-of` the Cell Genomics
    article, and a real title under the DOI of another work (an eLife paper)."""
    code, out, _ = run(capsys, "verify", FIXTURES / "published.bib", "--json")
    preprint, swapped = json.loads(out)
    assert code == 1
    assert (preprint["status"], preprint["detail"]) == ("superseded", "published as DOI 10.1016/j.xgen.2025.100814")
    published = preprint["fix"]["entry"]
    assert published.startswith("@article{herger2024prime,") and "doi = {10.1016/j.xgen.2025.100814}" in published
    assert "journal = {Cell Genomics}" in published and "year = {2025}" in published
    assert swapped["status"] == "mismatch" and "Sankar et al. 2014" in swapped["detail"]
    assert swapped["fix"]["title"] == "Use the entry with this title"
    assert swapped["fix"]["entry"].startswith("@article{bran2024swapped,")
    assert "doi = {10.1038/s42256-024-00832-8}" in swapped["fix"]["entry"] and "Nature Machine Intelligence" in swapped["fix"]["entry"]
