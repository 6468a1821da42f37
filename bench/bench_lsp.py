"""Language-server feature benchmark: completion and suggestion latency, startup, semantic readiness, memory.

Workspace: a draft citing from a synthetic 5,000-entry .bib, and a synthetic index of
100,000 references (1,000 of them also in the .bib). Index vectors are random unit
vectors stored under the real model's name, so dense search costs what it costs on a
real index while building the index takes minutes instead of hours of embedding;
queries are embedded with the real model. The data is built once and cached in
bench/results/lsp-cache/.

Figures (median and p95 over repeated requests; baselines in the same run):
  completion   bib only (no index) | bib + index, lexical | bib + index + model; typing keys after
               the debounced suggestions searched the sentence, and the cold first request
  suggestions  lexical | with model (each request a new sentence: no cache hit)
  initialize   `citewise serve` spawn -> initialize reply, beside a bare `python -c pass`
  semantic     model load, first dense search (vector matrix load), .bib vectors
  peak RSS     a process with the workspace and index open, without and with the model

Run: .venv/bin/python bench/bench_lsp.py [--entries 5000] [--papers 100000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import p95, peak_rss_mb

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / "results" / "lsp-cache"
PYTHON = sys.executable

WORDS = ("attention transformer neural network learning deep graph language model vision retrieval citation "
         "sparse dense embedding optimization bayesian inference robust scalable efficient quantum protein "
         "diffusion generative adversarial reinforcement policy gradient convolutional recurrent memory "
         "contrastive self-supervised federated privacy fairness causal discovery kernel spectral clustering "
         "segmentation detection translation summarization reasoning planning robotics control").split()
FAMILIES = ("vaswani devlin brown smith garcia chen wang li zhang kumar muller rossi dubois tanaka kim nguyen "
            "okafor silva novak larsen haddad ivanova moreau schmidt kowalski").split()
SENTENCES = [
    "Diffusion models generate images by reversing a gradual noising process",
    "Transformers rely on self-attention instead of recurrence for sequence transduction",
    "Federated learning trains models without collecting private data in one place",
    "Graph neural networks propagate information along the edges of a graph",
    "Contrastive self-supervised learning needs no labels to learn visual representations",
    "Reinforcement learning agents improve their policy from gradient estimates",
    "Causal discovery recovers the structure of a graph from observational data",
    "Sparse retrieval with inverted indexes remains a strong baseline for search",
    "Protein structure prediction has benefited from deep learning",
    "Bayesian inference quantifies the uncertainty of robust models",
]
PREFIXES = ["", "v", "va", "vas", "vaswani", "attention", "diffus", "2019", "chen20", "grpah"]


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:7.1f} ms   p95 {p95(values) * 1000:7.1f} ms   (n={len(values)})"


# --- data ------------------------------------------------------------------------------------


SYLLABLES = "ba ce di fo gu ka le mi no pu ra se ti vo zu an el in or ul ex qua tri".split()


def vocabulary(size: int = 30_000) -> list[str]:
    """Topic words first, then made-up words: a vocabulary as large as a real corpus has."""
    rng = random.Random(11)
    made_up = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(size * 2)}
                     - set(WORDS))
    rng.shuffle(made_up)
    return WORDS + made_up[:size]


VOCABULARY = vocabulary()
ZIPF_CUMULATIVE = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(VOCABULARY))))


def words(rng: random.Random, count: int) -> str:
    """`count` words drawn with a Zipf-like frequency (a few common words, a long tail)."""
    return " ".join(rng.choices(VOCABULARY, cum_weights=ZIPF_CUMULATIVE, k=count))


def synthetic_reference(number: int, rng: random.Random):
    from citewise.bib.model import Author, Reference

    title = words(rng, rng.randint(5, 10)).capitalize()
    authors = [Author(rng.choice(FAMILIES).capitalize(), rng.choice("ABCDEFGH") + ".") for _ in range(rng.randint(1, 5))]
    year = str(rng.randint(1995, 2025))
    key = f"{authors[0].family.lower()}{title.split()[0].capitalize()}{year}n{number}"
    abstract = words(rng, 40)
    return Reference(key=key, entry_type="article", title=title, authors=authors, year=year,
                     journal=f"Journal of {rng.choice(WORDS).capitalize()}", abstract=abstract)


def build_data(entries: int, papers: int) -> tuple[Path, Path]:
    """The cached workspace folder (draft + .bib) and index; built on first use."""
    folder = CACHE / f"ws2-{entries}-{papers}"
    index_path = CACHE / f"index2-{entries}-{papers}.sqlite"
    if (folder / "refs.bib").exists() and index_path.exists():
        _markdown_draft(folder)
        return folder, index_path
    rng = random.Random(7)
    shared = min(1000, entries)
    refs = [synthetic_reference(i, rng) for i in range(entries + papers - shared)]
    if not (folder / "refs.bib").exists():
        from citewise.bib.bibtex.writer import format_entry

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "refs.bib").write_text("\n".join(format_entry(ref) for ref in refs[:entries]), encoding="utf-8")
        body = "\n\n".join(f"{sentence} \\cite{{{refs[i].key}}}." for i, sentence in enumerate(SENTENCES))
        (folder / "paper.tex").write_text(
            f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\bibliography{{refs}}\n\\end{{document}}\n",
            encoding="utf-8")
    if not index_path.exists():
        build_index(index_path, refs[entries - shared:])
    _markdown_draft(folder)
    return folder, index_path


def _markdown_draft(folder: Path) -> None:
    """notes.md beside paper.tex: the same prose in Pandoc Markdown, citing with [@key]."""
    if (folder / "notes.md").exists():
        return
    import re

    latex = (folder / "paper.tex").read_text(encoding="utf-8")
    body = re.sub(r"\\cite\{([^}]*)\}", r"[@\1]", latex.split("\\begin{document}\n")[1].split("\n\\bibliography")[0])
    (folder / "notes.md").write_text(f"---\ntitle: Notes\nbibliography: refs.bib\n---\n\n{body}\n", encoding="utf-8")


def build_index(path: Path, refs: list) -> None:
    import numpy as np

    from citewise.bib.index.embed import DEFAULT_MODEL
    from citewise.bib.index.store import Index

    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with Index.open(partial) as index:
        for start in range(0, len(refs), 10_000):
            index.add_references(refs[start:start + 10_000])
            print(f"  index: {min(start + 10_000, len(refs))}/{len(refs)} references", flush=True)
        pending = index.needing_embedding()
        index.set_model(DEFAULT_MODEL, 384)
        rng = np.random.default_rng(7)
        for start in range(0, len(pending), 20_000):
            chunk = pending[start:start + 20_000]
            vectors = rng.standard_normal((len(chunk), 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            index.store_embeddings([item.row_id for item in chunk], vectors)
    os.replace(partial, path)
    print(f"  index built in {time.perf_counter() - started:.0f} s", flush=True)


# --- measurements ------------------------------------------------------------------------------


def open_workspace(folder: Path, index_path: Path | None):
    from citewise.server.drafts.uris import path_to_uri
    from citewise.server.features.settings import Settings
    from citewise.server.features.workspace import Workspace

    ws = Workspace([str(folder)], Settings(index_path=str(index_path) if index_path else str(folder / "absent.sqlite")))
    uri = path_to_uri(str(folder / "paper.tex"))
    text = (folder / "paper.tex").read_text(encoding="utf-8")
    ws.open_document(uri, text, 1)
    for state in ws.bib_states_for(uri):
        state.file.wait_for_fields()
    return ws, uri, text


def completion_requests(ws, uri: str, text: str, repeat: int, after_suggestions: bool = True) -> list[float]:
    """Type keys in a new citation at the end of each sentence, prefix by prefix; time complete().

    With `after_suggestions`, suggest() runs first for the sentence (untimed), as the
    debounced suggestions do while the sentence is written; otherwise only the first
    request of each sentence finds nothing cached."""
    from citewise.server.features import completion, suggestions
    from citewise.server.features.positions import LspLineIndex

    timings = []
    version = 2
    while len(timings) < repeat:
        for sentence in SENTENCES:
            offset = text.index(sentence) + len(sentence)
            if after_suggestions:
                suggestions.suggest(ws, uri, LspLineIndex(text).position_of(offset))
            for prefix in PREFIXES:
                typed = text[:offset] + f" \\cite{{{prefix}" + text[offset:]
                ws.update_document(uri, typed, version)
                version += 1
                position = LspLineIndex(typed).position_of(offset + len(" \\cite{") + len(prefix))
                started = time.perf_counter()
                completion.complete(ws, uri, position)
                timings.append(time.perf_counter() - started)
    ws.update_document(uri, text, version)
    return timings[:repeat]


def first_completions(ws, uri: str, text: str) -> list[float]:
    """The first completion in each sentence with nothing cached (no suggestions ran)."""
    from citewise.server.features import completion
    from citewise.server.features.positions import LspLineIndex

    timings = []
    rng = random.Random(5)
    for number in range(20):
        sentence = words(rng, 12).capitalize() + f" number {number}"
        typed = text.replace("\\bibliography", sentence + " \\cite{\n\\bibliography")
        ws.update_document(uri, typed, 9000 + number)
        position = LspLineIndex(typed).position_of(typed.index(sentence) + len(sentence) + len(" \\cite{"))
        started = time.perf_counter()
        completion.complete(ws, uri, position)
        timings.append(time.perf_counter() - started)
    ws.update_document(uri, text, 9999)
    return timings


def suggestion_requests(ws, uri: str, text: str, repeat: int) -> list[float]:
    """A new sentence each time (no cache hit): time suggest()."""
    from citewise.server.features import suggestions
    from citewise.server.features.positions import LspLineIndex

    rng = random.Random(3)
    timings = []
    for number in range(repeat):
        sentence = words(rng, 14).capitalize() + f" in setting {number}."
        typed = text.replace("\\bibliography", sentence + "\n\\bibliography")
        ws.update_document(uri, typed, 1000 + number)
        position = LspLineIndex(typed).position_of(typed.index(sentence) + 10)
        started = time.perf_counter()
        suggestions.suggest(ws, uri, position)
        timings.append(time.perf_counter() - started)
    ws.update_document(uri, text, 5000)
    return timings


def initialize_times(index_path: Path, folder: Path, repeat: int) -> tuple[list[float], list[float]]:
    """`citewise serve` spawn to initialize reply, and a bare interpreter start as baseline."""
    citewise = Path(PYTHON).parent / "citewise"
    message = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": os.getpid(), "rootUri": f"file://{folder}", "capabilities": {},
        "initializationOptions": {"indexPath": str(index_path)}}}).encode()
    frame = b"Content-Length: %d\r\n\r\n" % len(message) + message
    serve, bare = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.Popen([str(citewise), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        process.stdin.write(frame)
        process.stdin.flush()
        header = process.stdout.readline()
        serve.append(time.perf_counter() - started)
        process.kill()
        process.wait()
        if not header.startswith(b"Content-Length"):
            raise SystemExit(f"citewise serve answered {header!r}")
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    return serve, bare


def semantic_readiness(ws, uri: str) -> dict[str, float]:
    from citewise.server.features import completion

    figures = {}
    started = time.perf_counter()
    ws.load_model()
    figures["model load (torch import + weights)"] = time.perf_counter() - started
    started = time.perf_counter()
    ws.searcher.search("diffusion models generate images", k=10)
    figures["first dense search (loads 100k vectors)"] = time.perf_counter() - started
    started = time.perf_counter()
    completion.warm_up(ws, uri, wait=True)
    figures[".bib title vectors (background thread)"] = time.perf_counter() - started
    return figures


def rss_probe(folder: Path, index_path: Path, with_model: bool) -> int:
    """Peak RSS (MB, VmHWM) of a fresh process that opens the workspace, searches and completes."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_lsp as b; from pathlib import Path;"
        f"ws, uri, text = b.open_workspace(Path({str(folder)!r}), Path({str(index_path)!r}));"
        f"ws.load_model() if {with_model!r} else None;"
        "from citewise.server.features import completion; completion.warm_up(ws, uri, wait=True);"
        "b.completion_requests(ws, uri, text, 20); b.suggestion_requests(ws, uri, text, 5);"
        "print(b.peak_rss_mb())"
    )
    output = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return int(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    folder, index_path = build_data(args.entries, args.papers)
    print(f"workspace: {args.entries:,}-entry .bib, index of {args.papers:,} references; {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.1f} (other processes share the machine)")

    ws_bib_only, uri, text = open_workspace(folder, None)
    completion_requests(ws_bib_only, uri, text, 10)
    print("completion, bib only        ", summary(completion_requests(ws_bib_only, uri, text, args.repeat)))

    ws, uri, text = open_workspace(folder, index_path)
    completion_requests(ws, uri, text, 10)
    print("completion, bib + lexical   ", summary(completion_requests(ws, uri, text, args.repeat)))
    print("  first in a sentence, cold ", summary(first_completions(ws, uri, text)))
    print("suggestions, lexical        ", summary(suggestion_requests(ws, uri, text, max(20, args.repeat // 4))))

    for name, seconds in semantic_readiness(ws, uri).items():
        print(f"semantic ready: {name:48s} {seconds:6.2f} s")
    completion_requests(ws, uri, text, 10)
    print("completion, bib + model     ", summary(completion_requests(ws, uri, text, args.repeat)))
    print("  first in a sentence, cold ", summary(first_completions(ws, uri, text)))
    print("suggestions, with model     ", summary(suggestion_requests(ws, uri, text, max(20, args.repeat // 4))))

    serve, bare = initialize_times(index_path, folder, 5)
    print(f"initialize reply (spawn)     median {statistics.median(serve) * 1000:6.0f} ms   max {max(serve) * 1000:6.0f} ms"
          f"   baseline python -c pass: {statistics.median(bare) * 1000:.0f} ms")
    print(f"peak RSS                     without model {rss_probe(folder, index_path, False)} MB,"
          f" with model {rss_probe(folder, index_path, True)} MB")
    print(f"this benchmark's own peak    {peak_rss_mb()} MB; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
