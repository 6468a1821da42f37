"""Adding files to the index in batches that survive a crash, and pick up where they stopped.

`ingest_files` reads each file as a stream of items (`citewise.bib.readers.read_file_items`)
and commits every `batch_size` papers in one transaction together with a checkpoint: the
file's size and modification time, the place in it where reading resumes, and the counts
so far. A process killed at any moment (`kill -9`, power loss) leaves the index as of the
last commit, checkpoint included, so running the same command again skips what was
committed and continues with the next paper: no paper is lost, none is read twice, and the
index ends up as an uninterrupted run leaves it. A file changed since its checkpoint is read
from its start (its papers already stored are then recognised as duplicates).
`forget_checkpoints` drops the checkpoints once the whole command has finished, so adding
the same file later reads it again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from citewise.bib.errors import SourceError
from citewise.bib.index.paper_rows import IngestSummary
from citewise.bib.index.store import Index
from citewise.bib.model import Reference
from citewise.bib.readers import FileItems, Resume

BATCH_SIZE = 1000
CHECKPOINT_PREFIX = "ingest:"


@dataclass(frozen=True)
class IngestProgress:
    """How far an ingest is: papers handled by this run, bytes of the files behind and in all."""

    papers: int
    bytes_done: int
    bytes_total: int
    seconds: float
    bytes_at_start: int = 0

    @property
    def papers_per_second(self) -> float:
        return self.papers / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Remaining bytes at this run's byte rate; None until there is a rate."""
        read = self.bytes_done - self.bytes_at_start
        if read <= 0 or self.seconds <= 0:
            return None
        return (self.bytes_total - self.bytes_done) / (read / self.seconds)


@dataclass
class IngestRun:
    """What an ingest did, counting the work of interrupted runs it continued."""

    summary: IngestSummary = field(default_factory=IngestSummary)
    warnings: int = 0
    resumed: list[tuple[str, int]] = field(default_factory=list)
    """(file, items already committed) for each file continued from a checkpoint."""


@dataclass
class _Checkpoint:
    size: int
    mtime_ns: int
    offset: int = 0
    line: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    warnings: int = 0
    items: int = 0

    def matches(self, read: FileItems) -> bool:
        return self.size == read.size and self.mtime_ns == read.mtime_ns


def checkpoint_name(read: FileItems) -> str:
    return CHECKPOINT_PREFIX + os.path.abspath(read.path)


def ingest_files(
    index: Index,
    reads: Sequence[FileItems],
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[IngestProgress], None] | None = None,
) -> IngestRun:
    """Add every paper of `reads`, `batch_size` at a time, each batch committed with its checkpoint."""
    run = IngestRun()
    started = time.monotonic()
    total = sum(read.size for read in reads)
    behind = 0
    papers = 0
    at_start: int | None = None
    for read in reads:
        if read.format is None:  # unreadable or unrecognised: its one problem, nothing to resume
            unread = [item.found for item in read.items() if isinstance(item.found, SourceError)]
            _count_into(run, IngestSummary(failed=len(unread), errors=unread), 0)
            run.summary.errors.extend(unread)
            behind += read.size
            continue
        checkpoint = _load_checkpoint(index, read)
        if checkpoint.items:
            run.resumed.append((read.path, checkpoint.items))
        _count_into(run, checkpoint)
        if at_start is None:
            at_start = behind + (checkpoint.offset if read.format == "arxiv-jsonl" else 0)
        batch: list[Reference] = []
        problems: list[SourceError] = []
        where = Resume(checkpoint.offset, checkpoint.line)
        for item in read.items(where):
            if isinstance(item.found, Reference):
                batch.append(item.found)
            else:
                problems.append(item.found)
            where = item.resume
            if len(batch) >= batch_size:
                papers += _commit(index, read, batch, problems, where, checkpoint, run)
                batch, problems = [], []
                if on_progress:
                    done = behind + (where.offset if read.format == "arxiv-jsonl" else 0)
                    on_progress(IngestProgress(papers, done, total, time.monotonic() - started, at_start))
        papers += _commit(index, read, batch, problems, where, checkpoint, run)
        behind += read.size
        if on_progress:
            on_progress(IngestProgress(papers, behind, total, time.monotonic() - started, at_start or 0))
    return run


def forget_checkpoints(index: Index, reads: Sequence[FileItems]) -> None:
    """Drop the checkpoints of a finished command, so the next `index add` of these files reads them anew."""
    with index.transaction():
        for read in reads:
            index.delete_meta(checkpoint_name(read))


def _load_checkpoint(index: Index, read: FileItems) -> _Checkpoint:
    stored = index.get_meta(checkpoint_name(read))
    if stored:
        checkpoint = _Checkpoint(**json.loads(stored))
        if checkpoint.matches(read):
            return checkpoint
    return _Checkpoint(read.size, read.mtime_ns)


def _commit(index: Index, read: FileItems, batch: list[Reference], problems: list[SourceError], where: Resume,
            checkpoint: _Checkpoint, run: IngestRun) -> int:
    """Add one batch and move the file's checkpoint past it, in one transaction; how many papers it held."""
    if not batch and not problems and (where.offset, where.line) == (checkpoint.offset, checkpoint.line):
        return 0
    with index.transaction():
        summary = index.add_references(batch) if batch else IngestSummary()
        warnings = sum(problem.warning for problem in problems)
        summary.failed += len(problems) - warnings
        summary.errors.extend(problems)
        checkpoint.offset, checkpoint.line = where.offset, where.line
        checkpoint.items += len(batch) + len(problems)
        for name in ("added", "updated", "skipped", "failed"):
            setattr(checkpoint, name, getattr(checkpoint, name) + getattr(summary, name))
        checkpoint.warnings += warnings
        index.set_meta(checkpoint_name(read), json.dumps(checkpoint.__dict__))
    run.summary.errors.extend(summary.errors)
    _count_into(run, summary, warnings)
    return len(batch)


def _count_into(run: IngestRun, counts: _Checkpoint | IngestSummary, warnings: int | None = None) -> None:
    for name in ("added", "updated", "skipped", "failed"):
        setattr(run.summary, name, getattr(run.summary, name) + getattr(counts, name))
    run.warnings += counts.warnings if isinstance(counts, _Checkpoint) else warnings or 0
