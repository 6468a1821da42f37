"""Precision and recall of `verify` on fabricated references, and its false flags on real bibliographies.

1. Fabricated set, against the recorded-response registries (tests/registry_server.py):
   - genuine entries: every recorded work, written the way authors write them (title case
     changed, capitals braced, given names cut to initials, no abstract), with its DOI, arXiv id,
     ISBN or PMID;
   - fabricated entries: plausible titles under DOIs that do not exist (real prefixes), real DOIs
     paired with another work's title and authors, well-formed arXiv ids never issued, and
     plausible titles with no identifier.
   A fabricated entry is caught when verify says `not-found` or `mismatch`; a genuine entry
   flagged so is a false flag. Precision = caught / all flagged; recall = caught / fabricated.
2. Real bibliographies (../shared: Better BibTeX export pairs and the drafts' .bib files):
   - offline with an empty cache: how many entries come out `not-found` (must be none);
   - against a "self-mirror": registry records generated from the entries themselves (Unicode
     titles, split names, year, DOI/arXiv id). No real registry answers for these works could be
     recorded here, so this measures only what citewise's reading and matching add: false
     `not-found`/`mismatch` from LaTeX markup, accents, name forms and the like.
Also prints the median and p95 time per entry (test server on 127.0.0.1, cold cache).
Run: .venv/bin/python bench/bench_verify.py
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from registry_server import FIXTURES, REGISTRIES, Records, RegistryServer  # noqa: E402
from timing import p95  # noqa: E402

from citewise.bib.bibtex.reader import entry_to_reference, read_bib_file  # noqa: E402
from citewise.bib.model import Author, Reference  # noqa: E402
from citewise.bib.registries.cache import ResponseCache  # noqa: E402
from citewise.bib.registries.http import RegistryHTTP, RegistrySettings  # noqa: E402
from citewise.bib.registries.identifiers import Identifier, normalize_isbn  # noqa: E402
from citewise.bib.registries.lookup import Registries  # noqa: E402
from citewise.bib.registries.verify import check_reference  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus"
CAUGHT = ("not-found", "mismatch")
PLAUSIBLE_TITLES = [
    "Contrastive Diffusion Priors for Robust Few-Shot Segmentation",
    "Sparse Retrieval Heads Make Long-Context Reasoning Cheap",
    "Graph Neural Operators for Turbulent Flow Forecasting at Scale",
    "A Unified Benchmark for Hallucination Detection in Scientific Summaries",
    "Self-Supervised Pretraining Improves Rare Disease Phenotyping from Clinical Notes",
    "Causal Representation Learning under Partial Observability",
    "Energy-Efficient Transformers via Dynamic Token Merging",
    "Quantum Annealing for Citation Graph Partitioning",
    "Federated Fine-Tuning of Protein Language Models with Differential Privacy",
    "On the Convergence of Adaptive Optimizers in Overparameterized Regimes",
    "Multilingual Instruction Tuning for Low-Resource Legal Question Answering",
    "Neural Radiance Fields for Cellular Microscopy Reconstruction",
    "Benchmarking Retrieval-Augmented Agents on Long-Horizon Laboratory Tasks",
    "Uncertainty-Aware Crop Yield Prediction from Satellite Time Series",
    "Scaling Laws for Sparse Mixture-of-Experts Speech Recognizers",
    "Topological Data Analysis of Gene Regulatory Network Dynamics",
    "Learning to Rank Molecular Conformers with Equivariant Transformers",
    "Robust Estimation of Heterogeneous Treatment Effects in Panel Data",
    "A Survey of Watermarking Methods for Generated Text",
    "Curriculum Reinforcement Learning for Dexterous Tool Use",
]
FAKE_NAMES = ["Chen", "Okafor", "Müller", "Nakamura", "García", "Singh", "Kowalski", "Haddad", "Larsen", "Tanaka"]


def registries_on(server: RegistryServer) -> Registries:
    settings = RegistrySettings(urls={name: f"{server.url}/{name}" for name in REGISTRIES},
                                min_interval={name: 0.0 for name in REGISTRIES}, backoff_base=0.01)
    return Registries(RegistryHTTP(settings, ResponseCache(None)))


def as_authors_write(ref: Reference, rng: random.Random) -> Reference:
    """The entry an author would have typed for a registry record."""
    title = ref.title
    if rng.random() < 0.5:
        title = title.title()
    words = [f"{{{word}}}" if word[:1].isupper() and rng.random() < 0.3 else word for word in title.split()]
    authors = [Author(a.family, " ".join(part[0] + "." for part in a.given.split() if part)) if rng.random() < 0.5 else a
               for a in ref.authors]
    return replace(ref, title=" ".join(words), authors=authors, abstract="", url="")


def genuine_entries(records: Records, registries: Registries, rng: random.Random) -> list[Reference]:
    refs = []
    queries = [("doi", doi) for doi in records.crossref_items] + [("doi", doi) for doi in records.datacite]
    queries += [("arxiv", arxiv_id) for arxiv_id in records.arxiv] + [("isbn", key.split(":")[1]) for key in records.openlibrary]
    queries += [("pmid", pmid) for pmid in records.pubmed]
    for kind, value in queries:
        work = registries.identifier(Identifier(kind, value))
        if work is None or not work.ref.title:
            continue
        ref = as_authors_write(work.ref, rng)
        if kind == "pmid":
            ref.extra_fields["pmid"] = value
        refs.append(replace(ref, key=f"genuine{len(refs)}"))
    return refs


def fabricated_entries(genuine: list[Reference], rng: random.Random) -> list[Reference]:
    refs = []
    with_doi = [ref for ref in genuine if ref.doi]
    for i, title in enumerate(PLAUSIBLE_TITLES):
        host = with_doi[i % len(with_doi)]
        prefix = host.doi.split("/")[0]
        refs.append(Reference(key=f"fakedoi{i}", entry_type="article", title=title, year=str(2018 + i % 7),
                              authors=[Author(rng.choice(FAKE_NAMES), "A.")], doi=f"{prefix}/{rng.randrange(10**6, 10**7)}.{i}"))
    shuffled = with_doi[:]
    rng.shuffle(shuffled)
    for i, (real, other) in enumerate(zip(with_doi, shuffled[1:] + shuffled[:1])):
        if real.doi != other.doi and real.title.lower() != other.title.lower():
            refs.append(replace(other, key=f"wrongtitle{i}", doi=real.doi, arxiv=""))
    for i, title in enumerate(PLAUSIBLE_TITLES[:10]):
        refs.append(Reference(key=f"fakearxiv{i}", title=title, year="2021", authors=[Author(rng.choice(FAKE_NAMES), "B.")],
                              arxiv=f"21{i:02d}.{rng.randrange(90000, 99999)}"))
    for i, title in enumerate(PLAUSIBLE_TITLES[10:]):
        refs.append(Reference(key=f"faketitle{i}", entry_type="article", title=title, year="2020",
                              authors=[Author(rng.choice(FAKE_NAMES), "C.")]))
    return refs


def fabricated_figures() -> None:
    rng = random.Random(7)
    server = RegistryServer().start()
    try:
        registries = registries_on(server)
        genuine = genuine_entries(server.records, registries, rng)
        fabricated = fabricated_entries(genuine, rng)
        times, statuses = [], {}
        for ref in genuine + fabricated:
            fresh = registries_on(server)
            start = time.perf_counter()
            statuses[ref.key] = check_reference(ref, fresh).status
            times.append(time.perf_counter() - start)
            fresh.close()
        registries.close()
    finally:
        server.stop()
    caught = sum(statuses[ref.key] in CAUGHT for ref in fabricated)
    false_flags = [ref for ref in genuine if statuses[ref.key] in CAUGHT]
    flagged = caught + len(false_flags)
    print(f"fabricated set: {len(genuine)} genuine + {len(fabricated)} fabricated entries")
    for kind in ("fakedoi", "wrongtitle", "fakearxiv", "faketitle"):
        group = [ref for ref in fabricated if ref.key.startswith(kind)]
        print(f"  {kind:<11} caught {sum(statuses[r.key] in CAUGHT for r in group)}/{len(group)}")
    print(f"  precision {caught / flagged if flagged else 1:.3f}   recall {caught / len(fabricated):.3f}   "
          f"false flags on genuine {len(false_flags)}/{len(genuine)} {[f'{r.key}:{statuses[r.key]}' for r in false_flags]}")
    genuine_statuses = statistics.multimode([statuses[r.key] for r in genuine])
    print(f"  genuine statuses: {dict(sorted((s, sum(statuses[r.key] == s for r in genuine)) for s in set(statuses[r.key] for r in genuine)))} (mode {genuine_statuses})")
    print(f"  time per entry: median {statistics.median(times) * 1000:.1f} ms, p95 {p95(times) * 1000:.1f} ms (cold cache, 127.0.0.1)")


def real_bibliographies() -> list[Reference]:
    files = sorted((SHARED / "zotero" / "bbt_export_pairs").glob("*.bib*")) + sorted((SHARED / "drafts").rglob("*.bib"))
    refs = []
    for file in files:
        try:
            bib = read_bib_file(file)
        except Exception as error:  # a corpus file we cannot read is reported, not fatal
            print(f"  skipped {file.name}: {error}")
            continue
        refs += [entry_to_reference(entry, str(file)) for entry in bib.entries if entry.entry_type not in ("string", "comment")]
    return [ref for ref in refs if ref.title]


def self_mirror(refs: list[Reference], folder: Path) -> None:
    """Registry records made from the entries themselves: Crossref works and arXiv entries."""
    for name in ("crossref", "arxiv", "openlibrary"):
        (folder / name).mkdir(parents=True)
    books = {}
    feed = ElementTree.Element("{http://www.w3.org/2005/Atom}feed")
    for i, ref in enumerate(refs):
        authors = [{"family": a.family, "given": a.given} if not a.literal else {"name": a.family} for a in ref.authors]
        isbn = normalize_isbn(ref.extra_fields.get("isbn", "").split(",")[0])
        if isbn and ref.entry_type in ("book", "inbook", "incollection") and not ref.doi and not ref.arxiv:
            people = ref.authors or ref.editors
            books[f"ISBN:{isbn}"] = {"title": ref.title, "authors": [{"name": f"{a.given} {a.family}".strip()} for a in people],
                                     "publish_date": ref.year, "publishers": [{"name": ref.publisher}]}
            continue
        if ref.arxiv and not ref.doi:
            entry = ElementTree.SubElement(feed, "{http://www.w3.org/2005/Atom}entry")
            ElementTree.SubElement(entry, "{http://www.w3.org/2005/Atom}id").text = f"http://arxiv.org/abs/{ref.arxiv}v1"
            ElementTree.SubElement(entry, "{http://www.w3.org/2005/Atom}title").text = ref.title
            ElementTree.SubElement(entry, "{http://www.w3.org/2005/Atom}published").text = f"{ref.year or '2000'}-01-01T00:00:00Z"
            for a in ref.authors:
                author = ElementTree.SubElement(entry, "{http://www.w3.org/2005/Atom}author")
                ElementTree.SubElement(author, "{http://www.w3.org/2005/Atom}name").text = f"{a.given} {a.family}".strip()
            continue
        message = {"DOI": ref.doi or f"10.0000/selfmirror.{i}", "title": [ref.title], "author": authors,
                   "issued": {"date-parts": [[int(ref.year)]]} if ref.year.isdigit() else {}, "type": "journal-article"}
        work = {"status": "ok", "message-type": "work", "message": message}
        (folder / "crossref" / f"{i}.json").write_text(json.dumps(work), encoding="utf-8")
    (folder / "openlibrary" / "books.json").write_text(json.dumps(books), encoding="utf-8")
    (folder / "arxiv" / "feed.xml").write_text(ElementTree.tostring(feed, encoding="unicode"), encoding="utf-8")


def real_figures() -> None:
    if not SHARED.is_dir():
        print("real bibliographies: ../shared is absent, skipped")
        return
    refs = real_bibliographies()
    with tempfile.TemporaryDirectory() as tmp:
        offline = Registries(RegistryHTTP(RegistrySettings(offline=True), ResponseCache(Path(tmp) / "empty.sqlite")))
        offline_statuses = [check_reference(ref, offline).status for ref in refs]
        self_mirror(refs, Path(tmp) / "mirror")
        server = RegistryServer(Records(Path(tmp) / "mirror")).start()
        try:
            registries = registries_on(server)
            statuses = [check_reference(ref, registries).status for ref in refs]
            registries.close()
        finally:
            server.stop()
    print(f"real bibliographies: {len(refs)} entries with a title (Better BibTeX export pairs + drafts' .bib files)")
    print(f"  offline, empty cache: not-found {offline_statuses.count('not-found')}, "
          f"unverifiable {offline_statuses.count('unverifiable')}")
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    print(f"  self-mirror: {counts}; false not-found {counts.get('not-found', 0) / len(refs):.3%}, "
          f"false mismatch {counts.get('mismatch', 0) / len(refs):.3%}")
    for ref, status in zip(refs, statuses):
        if status in CAUGHT:
            print(f"    {status}: {Path(ref.origin.source).name}:{ref.origin.line} {ref.key}")


if __name__ == "__main__":
    print(f"recorded responses: {FIXTURES}")
    fabricated_figures()
    real_figures()
