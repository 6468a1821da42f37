"""How the language server uses threads: the one concurrency model, stated here.

Three kinds of thread, each owning its own state:

1. The protocol thread (the asyncio loop in `server/lsp/`) reads and writes JSON-RPC and
   nothing else. It never touches the features `Workspace`. Work reaches the features
   thread through `CitewiseServer.run`; results come back as awaited futures. Work the loop
   starts without awaiting it (model load, polling, checks) goes through `CitewiseServer.spawn`,
   which holds the task until it ends.
2. The features thread (the `features` lane below) owns the `Workspace` and all it holds:
   open documents, draft scans, .bib states, caches and the index's SQLite connection.
   Requests and notifications run there one at a time, in arrival order, so a document
   update is applied before the request that follows it.
3. Background lanes run slow work that would otherwise stall the features thread:
   `files` (reading and parsing .bib files), `model` (loading the embedding model),
   `embed` (embedding .bib titles), `tables` (completion's candidate table of the index, and the
   suggestions' library of a draft: its .bib's rows and Zotero's), `vectors`
   (the index's vector matrix, brought up to date after each write to the index by reading the
   rows that changed: bib/index/vector_matrix.py), `queries` (embedding
   the texts a suggestion will query with, before the features thread ranks: the language
   server awaits it between two features calls, so completions are answered meanwhile; and the
   sentence a completion found not embedded yet, for the next keystroke: cursor_query.py), `jobs`
   (reindex, Zotero sync and push), `registries` (asking Crossref, arXiv and the other registries
   about a draft's references), `lookups` (registry lookups a person is waiting for: an identifier
   typed in a citation, "Add from DOI", so they never queue behind a whole draft's checks). Each lane is
   one daemon thread running its jobs in order. Background work never changes features
   state in place: it builds a new value (a parsed `BibFile`, a vector matrix sharing the
   blocks that did not change, a loaded embedder) and publishes it with one reference assignment, which the features thread
   picks up on its next use. The old value keeps answering until then.

Inside one call, code may use helper threads that it joins before returning (the searcher,
bib/index/search.py, runs its SQLite signals beside the query embedding; the suggestions'
ranking, features/ranking.py, embeds the paragraph beside the sentence's search; verify,
features/verify.py, asks several registries at once; the BERT encoder, bib/index/bert.py, computes
the texts of a bulk embedding side by side; an SQLite failure's damage check, bib/index/connection.py,
is interrupted by a timer thread when it runs too long); those are not lanes. No other module
starts a thread (tests/test_layout.py checks that every module that does is named here). The stdin pump of the transport (lsp/transport.py) belongs to the
protocol thread: it only moves bytes into the loop. `citewise mcp` follows this model with
its domain thread (server/mcp/server.py) in the features thread's place, and the same lanes
working for its `Workspace`. The library's `read_bib_file(wait=False)`
(bib/bibtex/reader.py) parses fields on a daemon thread of its own only when no executor is
given; the server always gives it the `files` lane.
Libraries compute on threads of their own, sized once per process: numpy's BLAS is held to one
thread, ONNX Runtime computes each call on the thread that makes it, and torch's count is set by
the first model load (bib/index/embed.py, bib/index/bert.py); usearch builds the HNSW graph on
every core (bib/index/ann.py).

Suggestions come first. While a keystroke's suggestions are computed (`Lanes.foreground`,
around `push_suggestions` in server/lsp/documents.py), background work that can pause between
small steps waits (`Lanes.yield_to_foreground`, at most FOREGROUND_WAIT_S at a time): embedding a
.bib's titles, about 30 s of both cores on a first start, stops between batches of 8 titles;
reading a .bib's fields stops between entries, converting them between entries, the candidate
tables between chunks of papers (completion_tables.py), so the suggestions' own embedding and
ranking get the GIL and the cores, not a third or a half of them. Work the features thread
does itself never waits: it is what the foreground waits for.

The GIL is handed over every SWITCH_INTERVAL_S (Python's default is 5 ms), set here when
the lanes are created: a protocol or features thread waiting behind a background lane's
Python loop (parsing a .bib, building a candidate table, a Zotero sync) gets it back within
about that long, where it would wait up to 5 ms at each of a request's thread hops.

The cores come first too. On two cores the background work competes with the protocol and
features threads for the CPU, not only for the GIL: a completion that computes for 10 ms waited
in the kernel's run queue behind the titles' embedding, a .bib's parsing or another process's
`index add`. So each lane but those a person waits for (WAITED_FOR_LANES: `features`, `queries`,
`lookups`, and `model`, whose one job per start the first semantic ranking waits for: lowered, it
took 7 s instead of 2 on a quiet machine and the completions meanwhile stalled up to 390 ms) lowers its own thread's priority by BACKGROUND_NICENESS nice steps when it starts
(`lower_thread_priority`; Linux keeps a nice value per thread, so the process's other threads keep
theirs; elsewhere the lanes run at the process's priority). Threads a lane starts inherit its
priority: the BERT encoder's batches and torch's OpenMP workers, which torch starts per calling
thread, so the `queries` lane's embedding gets workers of its own at normal priority. A lowered
lane holding the GIL still hands it over every SWITCH_INTERVAL_S once it runs, and while the
protocol and features threads wait for it they leave the cores to it; the GIL wait measured in
bench/bench_lsp_protocol.py covers that case. `citewise index add`, `reembed` and `rebuild` lower
their own priority alike (server/cli/index_cmd.py, `--nice`).

Opening a draft comes first too. Bulk background work that would share the GIL with the first requests of a draft just opened
(loading the model, converting a .bib's entries, building a candidate table) goes through
`Lanes.submit_when_quiet`: its job first sleeps (holding no GIL) until the features lane has
been idle QUIET_S, at most QUIET_WAIT_S. An editor opens a draft and asks for its diagnostics
and a completion within milliseconds; those are answered first, with what the .bib's keys and
titles give, and the slow work follows.

The cyclic garbage collector stalls every thread while a full collection walks every
object (measured over the wire: each completion of 100–500 ms while background work ran was
a generation-2 collection as long). So what lives long is moved out of its reach with
`gc.freeze()` (`keep_for_good`) once it is built: the language server's imports when its
workspace is created; the model once loaded; and, in the language server (`Lanes(keep_built=
True)`, `Lanes.keep_built`), whatever the `files`, `tables` and `model` lanes built (a .bib's
entries, fields and references, its candidate table, the index's table, a draft's library):
after each of their jobs, once its result is delivered and no suggestion is being computed,
and during a long job at its pauses (`yield_to_foreground`), at most every KEEP_EVERY_S
(reading a 5.9 MB .bib's fields takes tens of seconds). A full collection then walks only
what was made since, not the hundreds of thousands of objects of a large .bib and the
libraries (100–300 ms on a busy two-core machine, paid in the middle of a keystroke).
Frozen objects are still freed when their last reference goes (a replaced .bib state, an old
table: they hold no reference cycles, tests/test_background_keep.py checks it). A reference
cycle frozen would outlive its use (an exception's frames left by the .bib parser hold a
whole .bib state), so each freeze comes right after a full collection, which walks only what
was made since the last freeze: what the job built, once in its life, on the lane. Freezing
happens at these few moments, not at every collection; a cycle still in use by another
thread at that moment is the remaining cost.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

SWITCH_INTERVAL_S = 0.0005
FOREGROUND_WAIT_S = 1.0
QUIET_S = 0.3  # bulk background work starts once the features lane has been idle this long...
QUIET_WAIT_S = 3.0  # ...or once it has waited this long, whichever comes first
QUIET_POLL_S = 0.02
LANES = ("features", "files", "model", "embed", "tables", "vectors", "queries", "jobs", "registries", "lookups")
KEEPING_LANES = ("files", "tables", "model")  # what their jobs build lives long (module docstring)
KEEP_EVERY_S = 1.0  # a long job on a keeping lane keeps what it built so far this often, at its pauses
WAITED_FOR_LANES = ("features", "queries", "lookups", "model")  # a person waits for their work: normal priority
BACKGROUND_NICENESS = 10  # every other lane runs this many nice steps below them (module docstring)


class SerialDaemonExecutor(Executor):
    """Runs submitted calls one at a time, in order, on one daemon thread.

    Unlike ThreadPoolExecutor its thread is not joined at exit, so a client that exits
    or dies mid-way through a slow job (importing torch, reindexing) is not kept waiting.
    """

    def __init__(self, name: str, after_each: Callable[[], None] = lambda: None, niceness: int = 0) -> None:
        self._after_each = after_each  # run after each job's future is resolved (`Lanes.keep_built`)
        self._niceness = niceness
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._count_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._count_lock:
            self._pending += 1
            self._idle.clear()
        self._jobs.put((future, function, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        while cancel_futures:
            try:
                future, *_ = self._jobs.get_nowait()
            except queue.Empty:
                break
            future.cancel()
            self._done()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has finished (tests and benchmarks use this)."""
        return self._idle.wait(timeout)

    def runs_here(self) -> bool:
        """Whether the calling thread is this lane's."""
        return threading.current_thread() is self._thread

    def idle(self) -> bool:
        """Whether every submitted job has finished, now."""
        return self._idle.is_set()

    def _done(self) -> None:
        with self._count_lock:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    def _work(self) -> None:
        lower_thread_priority(self._niceness)
        while True:
            future, function, args, kwargs = self._jobs.get()
            try:
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(function(*args, **kwargs))
                except BaseException as error:
                    future.set_exception(error)
                del future, function, args, kwargs  # nothing of the job stays alive into `after_each`
                self._after_each()
            finally:
                self._done()


def lower_thread_priority(steps: int) -> None:
    """Lower the calling thread's CPU priority by `steps` nice steps, for good (module docstring).
    Linux gives each thread its own nice value; elsewhere it would lower the whole process: skipped."""
    if steps > 0 and sys.platform.startswith("linux"):
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + steps))


def keep_for_good() -> None:
    """Exempt every object alive now from the cyclic collector (see the module docstring)."""
    gc.freeze()


class Lanes:
    """The background lanes of one server (or one `Workspace` used without a server)."""

    def __init__(self, keep_built: bool = False) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._keep_built = keep_built
        self._kept_at = time.monotonic()
        self._lanes: dict[str, SerialDaemonExecutor] = {}
        self._creating = threading.Lock()
        self._foreground = 0
        self._foreground_changed = threading.Condition()

    def __getitem__(self, name: str) -> SerialDaemonExecutor:
        """The lane `name`, its thread started on first use."""
        lane = self._lanes.get(name)
        if lane is None:
            if name not in LANES:
                raise KeyError(name)
            with self._creating:
                lane = self._lanes.get(name)
                if lane is None:
                    after_each = self.keep_built if name in KEEPING_LANES else (lambda: None)
                    niceness = 0 if name in WAITED_FOR_LANES else BACKGROUND_NICENESS
                    lane = self._lanes[name] = SerialDaemonExecutor(f"citewise-{name}", after_each, niceness)
        return lane

    def submit(self, lane: str, function: Callable[..., Any], *args: Any) -> Future:
        return self[lane].submit(function, *args)

    def submit_when_quiet(self, lane: str, function: Callable[..., Any], *args: Any) -> Future:
        """`submit`, for bulk work: the job starts once the features lane is quiet (module docstring)."""
        return self.submit(lane, self._after_quiet_features, function, *args)

    def keep_built(self) -> None:
        """What is alive now lives long: collected once (the cycles the work left behind go),
        then out of the collector's walk, when this server keeps what it builds (module docstring)."""
        if self._keep_built:
            if self.in_background():
                self._wait_for_foreground(lambda: False)  # the collection walks: not during a suggestion
            gc.collect()
            keep_for_good()
            self._kept_at = time.monotonic()

    def _after_quiet_features(self, function: Callable[..., Any], *args: Any) -> Any:
        features = self._lanes.get("features")
        started = quiet_since = time.monotonic()
        while features is not None and time.monotonic() - started < QUIET_WAIT_S:
            time.sleep(QUIET_POLL_S)
            if not features.idle():
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_S:
                break
        return function(*args)

    def wait_idle(self, *names: str, timeout: float = 30.0) -> None:
        """Block until the named lanes (default: every background lane) have no work left."""
        for name in names or tuple(n for n in LANES if n != "features"):
            lane = self._lanes.get(name)
            if lane is not None:
                lane.wait_idle(timeout)

    @contextlib.contextmanager
    def foreground(self) -> Iterator[None]:
        """Mark work someone is waiting for (see the module docstring); calls may overlap."""
        with self._foreground_changed:
            self._foreground += 1
        try:
            yield
        finally:
            with self._foreground_changed:
                self._foreground -= 1
                self._foreground_changed.notify_all()

    def _on_keeping_lane(self) -> bool:
        return any(self._lanes[name].runs_here() for name in KEEPING_LANES if name in self._lanes)

    def in_background(self) -> bool:
        """Whether the calling thread is one of the background lanes (not the features thread)."""
        return any(lane.runs_here() for name, lane in list(self._lanes.items()) if name != "features")

    def yield_to_foreground(self, awaited: Callable[[], bool] = lambda: False) -> None:
        """Called by background work between small steps: wait while foreground work runs, at
        most FOREGROUND_WAIT_S, so the background still moves under steady typing. It stops
        waiting once `awaited()` is true (another thread waits for this work's result); on the
        features thread (which may do the same work for a request) it returns at once."""
        features = self._lanes.get("features")
        if awaited() or (features is not None and features.runs_here()):
            return
        self._wait_for_foreground(awaited)
        if self._keep_built and time.monotonic() - self._kept_at >= KEEP_EVERY_S and self._on_keeping_lane():
            self.keep_built()  # a long job: what it built so far, out of the collections that come

    def _wait_for_foreground(self, awaited: Callable[[], bool]) -> None:
        until = time.monotonic() + FOREGROUND_WAIT_S
        with self._foreground_changed:
            while self._foreground and not awaited() and (left := until - time.monotonic()) > 0:
                self._foreground_changed.wait(min(left, QUIET_POLL_S))

    def busy(self) -> list[str]:
        """The background lanes with work submitted and not finished, now (`citewise.status`)."""
        return [name for name, lane in list(self._lanes.items()) if name != "features" and not lane.idle()]

    def shutdown(self) -> None:
        for lane in list(self._lanes.values()):
            lane.shutdown(cancel_futures=True)
