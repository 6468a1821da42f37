"""`citewise index enrich` and `index add --enrich` against the registries on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_support import execute, lsp_session, wait_until
from pygls.exceptions import JsonRpcException
from registry_support import registry, registry_env, registry_server  # noqa: F401 (fixtures)

from citewise.bib.index.store import Index
from citewise.server.cli import main

DIGEST = Path(__file__).parent / "fixtures" / "verify" / "recorded-digest.txt"


@pytest.fixture
def index_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "index.sqlite"
    monkeypatch.setenv("CITEWISE_INDEX", str(path))
    return path


def test_enrich_fills_digest_papers_only_on_a_confident_match(capsys, registry_env, index_path):
    assert main(["index", "add", str(DIGEST), "--no-embed"]) == 0
    with Index.open(index_path) as index:
        before = set(index.all_keys())
    assert "HeatBathRandom" in before
    capsys.readouterr()
    assert main(["index", "enrich"]) == 0
    out = capsys.readouterr().out
    assert "enriched 4 of 6 incomplete papers; no confident match 2, registries unavailable 0" in out
    assert "key HeatBathRandom -> stanleyHeatBathRandom2016 (HeatBathRandom still works)" in out
    with Index.open(index_path) as index:
        heat = index.get("stanleyHeatBathRandom2016")
        assert index.get("HeatBathRandom").title == heat.title
        assert heat.arxiv == "1605.08386" and heat.year == "2016" and heat.authors[0].family == "Stanley"
        chem = index.get("mbranAugmentingLargeLanguage2024")
        assert chem.doi == "10.1038/s42256-024-00832-8" and chem.journal == "Nature Machine Intelligence"
        decoy = next(ref for ref in index.iter_references() if ref.title.startswith("Quantum Computers"))
        assert decoy.authors == [] and decoy.year == ""
        invented = next(ref for ref in index.iter_references() if ref.title.startswith("Sparse Retrieval"))
        assert invented.authors == []


def test_a_key_from_a_bib_file_never_changes(capsys, registry_env, index_path, tmp_path):
    """Only keys citewise made without authors and year are replaced (the old one kept as an alias);
    an author's own key, from their .bib, stays as it is while the entry is filled in."""
    bib = tmp_path / "mine.bib"
    bib.write_text("@misc{heatbath,\n  title = {Heat-bath random walks with Markov bases},\n  eprint = {1605.08386}\n}\n", encoding="utf-8")
    assert main(["index", "add", str(bib), "--no-embed"]) == 0
    assert main(["index", "enrich"]) == 0
    assert "enriched 1 of 1 incomplete papers" in capsys.readouterr().out
    with Index.open(index_path) as index:
        assert set(index.all_keys()) == {"heatbath"}
        heat = index.get("heatbath")
    assert heat.year == "2016" and [a.family for a in heat.authors] == ["Stanley", "Windisch"]


def test_index_add_enrich_looks_up_what_it_read(capsys, registry_env, index_path):
    assert main(["index", "add", str(DIGEST), "--no-embed", "--enrich"]) == 0
    out = capsys.readouterr().out
    assert "enriched 4 of 6" in out
    with Index.open(index_path) as index:
        assert index.get("gouldFrequencyHotJupiters2006").year == "2006"


def test_enrich_offline_without_answers_changes_nothing(capsys, registry_env, index_path):
    main(["index", "add", str(DIGEST), "--no-embed"])
    with Index.open(index_path) as index:
        before = {ref.key: ref for ref in index.iter_references()}
    capsys.readouterr()
    assert main(["index", "enrich", "--offline", "--limit", "3"]) == 0
    assert "enriched 0 of 3 incomplete papers; no confident match 0, registries unavailable 3" in capsys.readouterr().out
    with Index.open(index_path) as index:
        assert {ref.key: ref for ref in index.iter_references()} == before
    assert registry_env.count() == 0


def test_the_demo_mirror_gives_digest_papers_authors_and_years(capsys, tmp_path, monkeypatch, index_path):
    """`make demo`'s steps on examples/registry-mirror: every paper of the digest gets authors and a year."""
    from registry_server import Records, RegistryServer

    examples = Path(__file__).resolve().parents[1] / "examples"
    server = RegistryServer(Records(examples / "registry-mirror")).start()
    try:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))
        assert main(["index", "add", str(examples / "daily-papers-digest.txt"), "--no-embed"]) == 0
        capsys.readouterr()
        assert main(["index", "enrich"]) == 0
    finally:
        server.stop()
    assert "enriched 75 of 75 incomplete papers" in capsys.readouterr().out
    with Index.open(index_path) as index:
        unlearning = index.get("goelCorrectiveMachineUnlearning2024")
        assert unlearning.arxiv == "2402.14015" and unlearning.year == "2024"
        assert [a.family for a in unlearning.authors] == ["Goel", "Prabhu", "Torr", "Kumaraguru", "Sanyal"]
        breadcrumbs = index.get("davariModelBreadcrumbsScaling2023")
        assert breadcrumbs.arxiv == "2312.06795" and [a.family for a in breadcrumbs.authors] == ["Davari", "Belilovsky"]
        predictions = index.get("guoPredictionsPreTraining2020")  # a record from arXiv's own abstract page
        assert predictions.arxiv == "2011.09031" and [a.family for a in predictions.authors] == ["Guo"]
        assert [ref.title for ref in index.iter_references() if not (ref.authors and ref.year)] == []


async def test_the_language_server_enriches_the_index_on_request(registry_env, index_path, tmp_path):
    """citewise.enrichIndex: the same lookups as `index enrich`, with progress, from any editor."""
    assert main(["index", "add", str(DIGEST), "--no-embed"]) == 0
    workspace = tmp_path / "paper"
    workspace.mkdir()
    async with lsp_session("visual-studio-code", workspace, index_path=index_path) as client:
        with pytest.raises(JsonRpcException, match="enrichIndex expects"):
            await execute(client, "citewise.enrichIndex", "all")
        with pytest.raises(JsonRpcException, match="enrichIndex expects"):
            await execute(client, "citewise.enrichIndex", True)  # JSON true is no limit
        assert registry_env.requests == []  # a refused request asks nothing
        summary = await execute(client, "citewise.enrichIndex")
        assert summary == {"candidates": 6, "enriched": 4, "notFound": 2, "unverifiable": 0,
                           "rekeyed": {"HeatBathRandom": "stanleyHeatBathRandom2016", **summary["rekeyed"]}}
        reports = await wait_until(lambda: next((r for r in client.progress_reports.values()
                                                 if r and r[0].title == "citewise: enriching the index" and r[-1].kind == "end"), None))
        assert reports[0].cancellable is True and any("looked up 6/6" in (r.message or "") for r in reports)
    with Index.open(index_path) as index:
        assert index.get("stanleyHeatBathRandom2016").arxiv == "1605.08386"
        assert index.get("HeatBathRandom").year == "2016"  # the old key still finds it
