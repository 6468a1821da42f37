"""The figure every benchmark prints beside the median: the 95th percentile of repeated runs."""

from __future__ import annotations


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile (the largest value for fewer than 20 runs)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
