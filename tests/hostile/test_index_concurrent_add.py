"""Two `index add` at once on one index file: both finish, nothing is lost or half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_concurrent_adds_both_land(tmp_path):
    index = tmp_path / "index.sqlite"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    runs = [subprocess.Popen([sys.executable, "-m", "citewise", "index", "add", str(EXAMPLES / source), "--index", str(index),
                              "--no-embed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for source in ("library.bib", "daily-papers-digest.txt")]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_out, err) in zip(runs, outputs):
        assert run.returncode == 0 and "Traceback" not in err, err
    stats = subprocess.run([sys.executable, "-m", "citewise", "index", "stats", "--index", str(index), "--json"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert stats.returncode == 0, stats.stderr
    sources = json.loads(stats.stdout)["sources"]
    assert sources[str(EXAMPLES / "library.bib")] == 5 and sources[str(EXAMPLES / "daily-papers-digest.txt")] == 75
