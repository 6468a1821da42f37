"""Figures the benchmarks share: the 95th percentile of repeated runs, and a process's peak memory."""

from __future__ import annotations

from pathlib import Path


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile (the largest value for fewer than 20 runs)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def peak_rss_mb(pid: int | str = "self") -> int:
    """A process's peak resident set in MB (VmHWM; ru_maxrss would include the parent's across exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1
