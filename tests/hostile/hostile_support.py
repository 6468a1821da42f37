"""Running `python -m citewise` the way a user does, and checking its failures are one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CITEWISE = [sys.executable, "-m", "citewise"]


def citewise(*args: str | os.PathLike, stdin: bytes | str | None = None, cwd: Path | None = None,
             env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the command; output decoded with replacement, so invalid bytes never break a test."""
    done = subprocess.run([*CITEWISE, *map(os.fsencode, args)], input=stdin.encode() if isinstance(stdin, str) else stdin,
                          capture_output=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode >= 0, f"killed by signal {-result.returncode}"


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str, code: int = 2) -> str:
    """Exactly one `citewise: …` line on stderr holding every fragment; the exit status `code`."""
    assert_no_traceback(result)
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("citewise: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
