"""Cite-check with the real model: swapped citations are flagged, fitting ones are not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from citewise.server.cli import main
from citewise.server.drafts.project import load_draft
from citewise.server.features.cite_check import Scores, Site, citation_sites, fit_findings, judge

DRAFT = Path(__file__).parent / "fixtures" / "citecheck" / "paper.tex"


def test_sites_carry_their_sentence_and_paragraph():
    sites = citation_sites(load_draft(DRAFT))
    assert [site.key for site in sites][:3] == ["chem", "vqf", "histo"]
    assert sites[3].sentence.startswith("Random walks on the lattice points") and "\\cite" not in sites[3].sentence


def test_the_two_swapped_citations_are_flagged_with_the_right_proposals(embedder):
    errors: list[str] = []
    findings = fit_findings([DRAFT], embedder, errors)
    assert errors == []
    assert {(f.key, f.fix["with"]) for f in findings} == {("jup", "tpi"), ("tpi", "jup")}
    assert all(f.status == "weak-fit" and f.line in (11, 13) for f in findings)


def test_verify_fit_on_the_command_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CITEWISE_INDEX", str(tmp_path / "none.sqlite"))
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["verify", str(DRAFT), "--offline", "--fit", "--json"])
    findings = json.loads(capsys.readouterr().out)
    weak = [f for f in findings if f["status"] == "weak-fit"]
    assert code == 0 and {f["key"] for f in weak} == {"jup", "tpi"}
    assert {f["status"] for f in findings if f["status"] != "weak-fit"} == {"unverifiable"}


def test_a_vaguely_titled_paper_at_its_own_site_is_not_flagged_but_swaps_are():
    """Scores by hand: paper 0's title fits no sentence well, yet fits its own site best; paper 9
    fits every sentence fairly. Judged on plain scores, site 0 would look like a misfit."""
    count = 10
    matrix = np.full((count, count), 0.1)
    np.fill_diagonal(matrix, 0.5)
    matrix[:, 0], matrix[0, 0] = 0.0, 0.2
    matrix[:, 9], matrix[9, 9] = 0.4, 0.5
    keys = [f"p{i}" for i in range(count)]
    scores = Scores([Site("d.tex", i, key, "s", "p") for i, key in enumerate(keys)], keys, matrix)
    fits, median = judge(scores)
    assert [fit.flagged for fit in fits] == [False] * count and median == 0.5
    swapped = ["p0", "p2", "p1", *keys[3:]]
    fits, _ = judge(scores, swapped)
    assert [i for i, fit in enumerate(fits) if fit.flagged] == [1, 2]
    assert (fits[1].better_key, fits[2].better_key) == ("p1", "p2")
