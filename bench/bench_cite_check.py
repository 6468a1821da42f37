"""Cite-check (weak-fit) on real drafts: false flags on their own citations, and how many swapped
citations it catches.

Drafts: the SciPy 1.0 paper (../shared/corpus/drafts/scipy-articles/scipy-1.0) and the Quarto
chapters of "Coding for Economists" (../shared/corpus/drafts/coding-for-economists); with
../shared absent, the copies in tests/fixtures/drafts. The candidates are each draft's own
bibliography. For each draft: one run on the citations as written (every flag is a false flag),
then `--trials` runs in which `--swap` of the sites have their keys exchanged in random pairs
(known misfits). Precision = flagged swapped / all flagged; recall = flagged swapped / swapped.
A held-out set, reported apart (with ../shared only): the citation contexts of ACM-CR
(../shared/corpus/citation-recommendation/acm-cr-dev), each paragraph's sentence holding the
reference number as the site, the cited papers' ACM entries (with abstracts) as the bibliography;
the thresholds were not chosen on it.
With `--sweep`, the same scores are judged again under other thresholds (SPREAD x MARGIN).
Run: .venv/bin/python bench/bench_cite_check.py [--trials 20] [--swap 0.1] [--sweep]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from timing import p95  # noqa: E402

from citewise.bib.bibtex.reader import entry_to_reference, read_bib_file  # noqa: E402
from citewise.bib.index.embed import Embedder  # noqa: E402
from citewise.server.drafts.project import load_draft  # noqa: E402
from citewise.server.features import cite_check  # noqa: E402
from citewise.server.features.cite_check import Site, citation_sites, judge, score_sites  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus" / "drafts"
ACM = ROOT.parent / "shared" / "corpus" / "citation-recommendation" / "acm-cr-dev"


def drafts() -> list[list[Path]]:
    """Groups of files that share one bibliography."""
    if SHARED.is_dir():
        return [[SHARED / "scipy-articles" / "scipy-1.0" / "paper.tex"],
                sorted((SHARED / "coding-for-economists").glob("*.qmd"))]
    fixtures = ROOT / "tests" / "fixtures" / "drafts"
    return [sorted((fixtures / "scipy").glob("*.tex"))[:1], sorted((fixtures / "quarto").glob("*.qmd"))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--swap", type=float, default=0.1)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    settings = [(cite_check.SPREAD, cite_check.MARGIN)]
    if args.sweep:
        settings += [(spread, margin) for spread in (2.0, 2.5, 3.0, 3.5) for margin in (0.10, 0.15, 0.20)]
    embedder = Embedder.load()
    seconds = []
    scored = []
    for group in drafts():
        sites, cited = [], {}
        for path in group:
            draft = load_draft(path)
            sites += citation_sites(draft)
            for bib in draft.bib_files:
                for entry in read_bib_file(bib).entries:
                    cited.setdefault(entry.key, entry_to_reference(entry, bib))
        start = time.perf_counter()
        scored.append((group, score_sites(sites, cited, list(cited.values()), embedder)))
        seconds.append(time.perf_counter() - start)
    sets = [("drafts", scored)]
    if ACM.is_dir():
        sites, cited = acm_contexts()
        sets.append(("acm-cr-dev contexts (held out)", [([ACM / "contexts.topics"], score_sites(sites, cited, list(cited.values()), embedder))]))
    for spread, margin in settings:
        cite_check.SPREAD, cite_check.MARGIN = spread, margin
        print(f"== SPREAD {spread}, MARGIN {margin}")
        for name, groups in sets:
            print(f"-- {name}")
            evaluate(groups, args, verbose=(spread, margin) == settings[0] and name == "drafts")
    print(f"time per draft (embedding contexts and bibliography): median {sorted(seconds)[len(seconds) // 2]:.2f} s, p95 {p95(seconds):.2f} s")


def acm_contexts() -> tuple[list[Site], dict]:
    """ACM-CR's (context, cited DOI) pairs as sites: the sentence holding the reference number
    (else the paragraph), keyed by the cited paper's entry in cited_docs.bib."""
    topics = {}
    for block in (ACM / "contexts.topics").read_text(encoding="utf-8").split("<top>")[1:]:
        number = re.search(r"<num> Number: (\S+)", block).group(1)
        topics[number] = block.split("Description:", 1)[1].split("</top>")[0].strip()
    by_doi = {}
    for entry in read_bib_file(ACM / "cited_docs.bib").entries:
        ref = entry_to_reference(entry, ACM / "cited_docs.bib")
        if ref.doi:
            by_doi[ref.doi.lower()] = ref
    sites, cited = [], {}
    for row, line in enumerate((ACM / "contexts.qrels").read_text(encoding="utf-8").splitlines()):
        number, reference, doi, _ = line.split()
        ref = by_doi.get(doi.lower())
        if ref is None or number not in topics:
            continue
        paragraph = topics[number]
        marker = re.compile(r"\[[^\]]*\b" + re.escape(reference) + r"\b[^\]]*\]")
        sentence = next((text for text in re.split(r"(?<=[.!?])\s+(?=[A-Z])", paragraph) if marker.search(text)), paragraph)
        sites.append(Site(str(ACM / "contexts.topics"), row, ref.key, sentence, paragraph))
        cited[ref.key] = ref
    return sites, cited


def evaluate(scored, args, verbose: bool) -> None:
    rng = random.Random(11)
    totals = {"real_sites": 0, "real_flags": 0, "swapped": 0, "caught": 0, "flags": 0}
    for group, scores in scored:
        fits, median = judge(scores)
        real_flags = [fit for fit in fits if fit.flagged]
        if verbose:
            print(f"{group[0].parent.name}: {len(fits)} citation sites, median fit {median:.2f}, flagged as written {len(real_flags)}")
            for fit in real_flags:
                print(f"    {Path(fit.site.file).name}:{fit.site.line + 1} {fit.site.key} {fit.score:.2f} -> {fit.better_key} {fit.better_score:.2f}")
        totals["real_sites"] += len(fits)
        totals["real_flags"] += len(real_flags)
        for _ in range(args.trials):
            order = list(range(len(scores.sites)))
            rng.shuffle(order)
            count = max(2, int(len(order) * args.swap)) // 2 * 2
            trial = [site.key for site in scores.sites]
            swapped = set()
            for a, b in zip(order[:count:2], order[1:count:2]):
                if trial[a] == trial[b]:
                    continue
                trial[a], trial[b] = trial[b], trial[a]
                swapped.update((a, b))
            fits, _ = judge(scores, trial)
            flagged = {i for i, fit in enumerate(fits) if fit.flagged}
            totals["swapped"] += len(swapped)
            totals["caught"] += len(flagged & swapped)
            totals["flags"] += len(flagged)
    precision = totals["caught"] / totals["flags"] if totals["flags"] else 1.0
    print(f"as written: {totals['real_flags']} false flags on {totals['real_sites']} citation sites "
          f"({totals['real_flags'] / max(totals['real_sites'], 1):.2%})")
    print(f"swapped {args.swap:.0%} of sites, {args.trials} trials per draft: precision {precision:.3f}, "
          f"recall {totals['caught'] / max(totals['swapped'], 1):.3f} ({totals['caught']} of {totals['swapped']} swapped; "
          f"{totals['flags'] - totals['caught']} flags on unswapped sites)")


if __name__ == "__main__":
    main()
