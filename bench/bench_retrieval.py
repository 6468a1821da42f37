"""Retrieval quality: Recall@10 of BM25 alone, dense alone and citewise's hybrid ranking.

Queries are the citation-context paragraphs of ../shared/corpus/citation-recommendation/
acm-cr-dev (`<desc>` of contexts.topics); the right answers are the DOIs they cite
(contexts.qrels). The index holds the cited papers (cited_docs.bib) plus the seed digest
as distractors. Each configuration is run three times, so the cost of citewise's speed-ups
shows: the float32 reference (papers by the plain `SentenceTransformer.encode` call at 256
tokens, queries by sentence-transformers in float32); the same papers with citewise's queries
(an index embedded before the int8 encoder, searched with it); and citewise throughout (the
bundled model's int8 encoder, papers at 160 tokens, queries at 128).

    .venv/bin/python bench/bench_retrieval.py [--topics N]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from citewise.bib.index.embed import Embedder, SentenceTransformersModel, bundled_model_dir, embed_pending
from citewise.bib.index.search import Searcher
from citewise.bib.index.store import Index
from citewise.bib.model import normalize_doi
from citewise.bib.readers import read_path

REPO = Path(__file__).resolve().parents[1]
ACM = REPO.parent / "shared" / "corpus" / "citation-recommendation" / "acm-cr-dev"
DIGEST = REPO / "examples" / "daily-papers-digest.txt"
K = 10


def read_topics(path: Path) -> dict[str, str]:
    """Topic id -> citation-context paragraph."""
    topics = {}
    for block in path.read_text(encoding="utf-8").split("<top>")[1:]:
        number = re.search(r"<num>\s*Number:\s*(\S+)", block).group(1)
        desc = re.search(r"<desc>\s*Description:\s*(.*?)\s*(</top>|$)", block, re.S).group(1)
        topics[number] = " ".join(desc.split())
    return topics


def read_qrels(path: Path) -> dict[str, set[str]]:
    relevant: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] != "0":
            relevant.setdefault(parts[0], set()).add(normalize_doi(parts[2]))
    return relevant


def build_index(path: Path, embedder: Embedder, plain: bool) -> Index:
    """The cited papers plus the digest; vectors from citewise's embedder or from the plain model call."""
    index = Index.open(path)
    for source in (ACM / "cited_docs.bib", DIGEST):
        index.add_references(read_path(source).references)
    if not plain:
        embed_pending(index, embedder)
        return index
    from sentence_transformers import SentenceTransformer

    pending = index.needing_embedding()
    model = SentenceTransformer(bundled_model_dir() or embedder.name, device="cpu")
    model.max_seq_length = embedder.model.max_seq_length
    vectors = model.encode([item.text for item in pending], normalize_embeddings=True)
    index.set_model(embedder.name, embedder.dimension)
    index.store_embeddings([item.row_id for item in pending], vectors)
    return index


def recall(ranked_dois: list[str], relevant: set[str]) -> float:
    return len(set(ranked_dois[:K]) & relevant) / len(relevant)


def dense_only(index: Index, embedder: Embedder, queries: list[str]) -> list[list[str]]:
    row_ids, half_matrix = index.load_embeddings(embedder.dimension)
    matrix = half_matrix.astype(np.float32)
    dois = {row_id: ref.doi for row_id, (ref, _) in index.get_by_ids(row_ids.tolist()).items()}
    ranked = []
    for vector in embedder.encode(queries):
        top = np.argsort(-(matrix @ vector))[:K]
        ranked.append([normalize_doi(dois[row_ids[i]]) for i in top])
    return ranked


def searcher_ranking(searcher: Searcher, queries: list[str]) -> tuple[list[list[str]], list[float]]:
    ranked, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        hits = searcher.search(query, k=K)
        seconds.append(time.perf_counter() - started)
        ranked.append([normalize_doi(hit.ref.doi) for hit in hits])
    return ranked, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=0, help="use only the first N topics (default: all)")
    args = parser.parse_args()
    if not ACM.is_dir():
        sys.exit(f"skipped: {ACM} is absent")
    topics = read_topics(ACM / "contexts.topics")
    relevant = read_qrels(ACM / "contexts.qrels")
    ids = [topic for topic in topics if topic in relevant][: args.topics or None]
    queries = [topics[topic] for topic in ids]
    print(f"{len(ids)} citation contexts, {sum(len(relevant[t]) for t in ids)} cited papers; Recall@{K}")
    print(f"{'configuration':<64} {'Recall@10':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        embedder = Embedder.load()
        float32 = dataclasses.replace(embedder, model=SentenceTransformersModel.load(
            bundled_model_dir() or embedder.name, "cpu", embedder.model.threads))
        settings = (("float32 papers and queries", True, float32), ("float32 papers, citewise queries", True, embedder),
                    ("citewise papers and queries", False, embedder))
        for label, plain, query_embedder in settings:
            with build_index(Path(scratch) / f"{label}.sqlite", embedder, plain) as index:
                runs = {
                    "BM25 alone": searcher_ranking(Searcher(index), queries)[0],
                    "dense alone": dense_only(index, query_embedder, queries),
                }
                hybrid, seconds = searcher_ranking(Searcher(index, query_embedder), queries)
                runs["citewise hybrid"] = hybrid
                for name, ranked in runs.items():
                    score = np.mean([recall(r, relevant[t]) for r, t in zip(ranked, ids)])
                    print(f"{name + ' (' + label + ')':<64} {score:9.4f}")
                print(f"{'  hybrid query latency median / p95 (ms)':<64} "
                      f"{np.median(seconds) * 1e3:6.1f} / {np.percentile(seconds, 95) * 1e3:.1f}")


if __name__ == "__main__":
    main()
