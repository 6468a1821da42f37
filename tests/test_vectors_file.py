"""`citewise index vectors FILE --model NAME`: vectors computed elsewhere, stored for the index's papers.

Runs the real command line on the seed digest's index; the file holds the real model's vectors
of three papers (so dense search finds them), one line naming no paper, one malformed line and
one vector of the wrong length.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import EXAMPLES

from citewise.bib.index.embedding_rows import embedding_text
from citewise.bib.index.store import Index

CITEWISE = [sys.executable, "-m", "citewise"]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CITEWISE, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_precomputed_vectors_are_stored_and_searched(tmp_path, embedder):
    index = str(tmp_path / "index.sqlite")
    assert run("index", "add", str(EXAMPLES / "daily-papers-digest.txt"), "--index", index, "--embed", "later").returncode == 0
    with Index.open(index, read_only=True) as opened:
        refs = [ref for ref, _ in opened.references_with_sources()][:3]
    vectors = embedder.encode_documents([embedding_text(ref) for ref in refs]) * 3.0  # not unit length: normalised
    lines = [json.dumps({"key": ref.key, "vector": vector.tolist()}) for ref, vector in zip(refs, vectors)]
    lines += [json.dumps({"doi": "10.9999/nobody", "vector": vectors[0].tolist()}), "{not json",
              json.dumps({"key": refs[0].key, "vector": [0.5, 0.5]})]
    source = tmp_path / "vectors.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run("index", "vectors", str(source), "--model", MODEL, "--index", index)
    assert result.returncode == 1
    assert result.stdout.strip() == "stored 3 vectors; 1 name no paper of the index; 2 lines failed"
    assert result.stderr.splitlines() == [
        f'{source}:5: expected {{"arxiv"|"doi"|"key": ..., "vector": [numbers]}}',
        f"{source}:6: 2 numbers, the model's vectors have 384",
    ]
    stats = json.loads(run("index", "stats", "--json", "--index", index).stdout)
    assert stats["embedded"] == 3 and stats["model"] == MODEL
    with Index.open(index, read_only=True) as opened:
        stored = opened.vectors_of(sorted(opened.ids_for_keys([refs[1].key])), 384)[0]
    assert abs(float(stored @ vectors[1]) / 3.0 - 1.0) < 1e-2

    other = run("index", "vectors", str(source), "--model", "some/other-model", "--index", index)
    assert other.returncode == 2 and "citewise index reembed" in other.stderr


def test_importing_vectors_runs_below_normal_priority(tmp_path):
    """Bulk work, like `index add`: folding the vectors into a large index's graph takes minutes of
    both cores, so the command yields them to an editor's language server (`--nice`, default 10)."""
    index = str(tmp_path / "index.sqlite")
    assert run("index", "add", str(EXAMPLES / "daily-papers-digest.txt"), "--index", index, "--embed", "later").returncode == 0
    with Index.open(index, read_only=True) as opened:
        key = next(iter(opened.references_with_sources()))[0].key
    source = tmp_path / "vectors.jsonl"
    source.write_text(json.dumps({"key": key, "vector": [1.0] + [0.0] * 383}) + "\n", encoding="utf-8")
    probe = (
        "import os\n"
        "from citewise.server.cli import main\n"
        "before = os.getpriority(os.PRIO_PROCESS, 0)\n"
        f"status = main(['index', 'vectors', {str(source)!r}, '--model', {MODEL!r}, '--index', {index!r}])\n"
        "print(status, before, os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    status, before, after = map(int, result.stdout.split()[-3:])
    assert status == 0, result.stderr
    assert after == min(19, before + 10)

