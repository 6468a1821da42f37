"""Figures the benchmarks share: the 95th percentile of repeated runs, and a process's peak memory."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any


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


def run_watched(command: list[str], **popen: Any) -> tuple[subprocess.Popen, int, resource.struct_rusage, int]:
    """Run `command` to its end: (the process, its wait status, its resource usage, its peak RSS in
    MB). The peak is its VmHWM, read every 0.1 s while it runs: the usage's ru_maxrss would be the
    parent's peak when that is larger, since Linux carries it across fork and exec (a benchmark of
    1 GB reported 1,136 MB for an `index add` whose own peak was 184 MB)."""
    process = subprocess.Popen(command, **popen)
    peak = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return process, status, usage, peak
        try:
            peak = max(peak, peak_rss_mb(process.pid))
        except OSError:  # it ended between the two calls
            pass
        time.sleep(0.1)


def memory_mb(pid: int | str = "self") -> dict[str, int]:
    """A process's resident memory now (MB): `anonymous` (its own: heap, arrays, the model),
    `file` (pages of mapped files: libraries, the model's weights, the memory-mapped HNSW graph;
    clean page cache the kernel can take back and other processes share) and `shmem`."""
    fields = {"RssAnon:": "anonymous", "RssFile:": "file", "RssShmem:": "shmem"}
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, *value = line.split()
        if name in fields:
            found[fields[name]] = int(value[0]) // 1024
    return found


def mapped_file_mb(pid: int | str, path: Path) -> int:
    """Resident MB of one memory-mapped file in a process (its mappings' Rss in /proc/PID/smaps)."""
    target = str(path.resolve())
    resident = 0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if not parts[0].endswith(":"):  # a mapping's header: address range, flags, ..., path
            inside = len(parts) > 5 and parts[5] == target
        elif inside and parts[0] == "Rss:":
            resident += int(parts[1])
    return resident // 1024
