"""Ingest throughput with embeddings: citewise's `index add` path against plain `SentenceTransformer.encode`.

References get full-length abstracts, recombined from real ones (the acm-cr-dev cited
papers when ../shared is present, and the seed digest). The work is split into rounds;
each round first times the plain call on the round's "title. abstract" texts (the model's
defaults: 256 tokens, batch 32), then citewise adding the same references to a real
index file and embedding them (`embed_pending`). Alternating keeps the comparison fair
when other processes share the machine.

    .venv/bin/python bench/bench_ingest.py [--count 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from citewise.bib.index.embed import Embedder, bundled_model_dir, embed_pending
from citewise.bib.index.embedding_rows import embedding_text
from citewise.bib.index.store import Index
from citewise.bib.model import Author, Origin, Reference
from citewise.bib.readers import read_path

REPO = Path(__file__).resolve().parents[1]
REAL_SOURCES = (
    REPO.parent / "shared" / "corpus" / "citation-recommendation" / "acm-cr-dev" / "cited_docs.bib",
    REPO / "examples" / "daily-papers-digest.txt",
)
FAMILIES = ("Smith Chen Wang Garcia Müller Rossi Kumar Tanaka Novak Silva Kim Dubois Ivanova Okafor Larsen "
            "Haddad Nguyen Cohen Kowalski Moreau").split()
GIVEN = "Ana Ben Chloe Dmitri Eva Farid Grace Hiro Ines Jonas Kaia Liam Mira Noor Omar Pia".split()


def real_papers() -> list[Reference]:
    papers = []
    for source in REAL_SOURCES:
        if source.exists():
            papers.extend(ref for ref in read_path(source).references if ref.abstract)
    return papers


def synthetic_references(count: int, seed: int = 7) -> list[Reference]:
    """`count` papers whose titles and abstracts recombine real ones, lengths as in the real ones."""
    rng = random.Random(seed)
    papers = real_papers()
    sentences = [s for p in papers for s in re.split(r"(?<=[.!?])\s+", p.abstract) if len(s) > 20]
    title_words = [p.title.split() for p in papers]
    refs = []
    for number in range(count):
        model = rng.choice(papers)
        length = max(3, len(re.split(r"(?<=[.!?])\s+", model.abstract)))
        words = rng.choice(title_words)[:4] + rng.choice(title_words)[-4:]
        authors = [Author(rng.choice(FAMILIES), rng.choice(GIVEN)) for _ in range(rng.randint(1, 4))]
        refs.append(Reference(
            key=f"syn{number}", entry_type="article", title=" ".join(words), authors=authors,
            year=str(rng.randint(1990, 2025)), abstract=" ".join(rng.choice(sentences) for _ in range(length)),
            origin=Origin(f"synthetic-{number // 5000}.json", number),
        ))
    return refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="references to ingest (default 10000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    args = parser.parse_args()
    refs = synthetic_references(args.count)
    words = statistics.mean(len(embedding_text(ref).split()) for ref in refs)
    print(f"{len(refs)} references, {words:.0f} words of title+abstract on average, {args.rounds} rounds")

    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(bundled_model_dir() or "sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    embedder = Embedder.load()
    plain.encode(["warm up"])
    embedder.encode_documents(["warm up"])
    plain_rates, citewise_rates, plain_seconds, citewise_seconds = [], [], 0.0, 0.0
    size = -(-len(refs) // args.rounds)
    with tempfile.TemporaryDirectory() as scratch, Index.open(Path(scratch) / "index.sqlite") as index:
        for start in range(0, len(refs), size):
            batch = refs[start:start + size]
            started = time.perf_counter()
            plain.encode([embedding_text(ref) for ref in batch], normalize_embeddings=True)
            elapsed = time.perf_counter() - started
            plain_seconds += elapsed
            plain_rates.append(len(batch) / elapsed)

            started = time.perf_counter()
            index.add_references(batch)
            embed_pending(index, embedder)
            elapsed = time.perf_counter() - started
            citewise_seconds += elapsed
            citewise_rates.append(len(batch) / elapsed)
            print(f"  round {len(plain_rates)}: plain {plain_rates[-1]:6.1f} refs/s, citewise {citewise_rates[-1]:6.1f} refs/s")
    print(f"{'':<44} {'overall':>9} {'median':>9} {'p95 slow':>10}")
    for label, seconds, rates in (
        ("plain SentenceTransformer.encode (refs/s)", plain_seconds, plain_rates),
        ("citewise index add + embed (refs/s)", citewise_seconds, citewise_rates),
    ):
        slow = sorted(rates)[max(0, int(len(rates) * 0.05) - 1)]
        print(f"{label:<44} {len(refs) / seconds:9.1f} {statistics.median(rates):9.1f} {slow:10.1f}")
    print(f"speed-up: {plain_seconds / citewise_seconds:.2f}x")


if __name__ == "__main__":
    main()
