"""The background lanes: bulk work waits for a quiet features lane; `busy` names the lanes at work;
background work that can pause waits while suggestions are computed, and moves again once they are done;
background lanes run at a lower CPU priority than the lanes a person waits for."""

from __future__ import annotations

import os
import sys
import threading
import time

from citewise.server.features import background
from citewise.server.features.background import BACKGROUND_NICENESS, QUIET_WAIT_S, WAITED_FOR_LANES, Lanes


def test_bulk_work_starts_after_the_features_lane_has_served_what_it_was_sent():
    lanes = Lanes()
    release = threading.Event()
    lanes.submit("features", release.wait, 30)  # a request the editor sent on opening a draft
    seen: list[bool] = []
    job = lanes.submit_when_quiet("files", lambda: seen.append(release.is_set()))
    time.sleep(QUIET_WAIT_S / 6)
    assert lanes.busy() == ["files"] and not seen
    release.set()
    job.result(timeout=30)
    assert seen == [True]
    lanes.wait_idle()
    assert lanes.busy() == []


def test_background_work_waits_for_the_foreground_and_resumes_when_it_ends(monkeypatch):
    monkeypatch.setattr(background, "FOREGROUND_WAIT_S", 60.0)
    lanes = Lanes()
    steps: list[str] = []
    started, passed = threading.Event(), threading.Event()

    def background_step() -> None:
        started.set()
        lanes.yield_to_foreground()
        steps.append("background")
        passed.set()

    with lanes.foreground():
        with lanes.foreground():  # two suggestions in flight at once
            job = lanes.submit("embed", background_step)
            assert started.wait(30)
            assert not passed.wait(0.3)
        assert not passed.wait(0.3)  # one still runs
        steps.append("foreground")
    assert passed.wait(30)
    job.result(30)
    assert steps == ["foreground", "background"]


def test_without_foreground_work_the_background_does_not_wait():
    lanes = Lanes()
    assert lanes.submit("embed", lanes.yield_to_foreground).result(30) is None


def test_steady_foreground_work_cannot_stop_the_background_for_good(monkeypatch):
    monkeypatch.setattr(background, "FOREGROUND_WAIT_S", 0.05)
    lanes = Lanes()
    with lanes.foreground():
        assert lanes.submit("embed", lanes.yield_to_foreground).result(30) is None


PER_THREAD_PRIORITY = sys.platform.startswith("linux")  # elsewhere a priority is the whole process's


def thread_priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id() if PER_THREAD_PRIORITY else 0)


def priority_of_a_helper_thread() -> int:
    """What a thread started by the calling thread runs at (as the BERT encoder's batches do)."""
    seen: list[int] = []
    helper = threading.Thread(target=lambda: seen.append(thread_priority()))
    helper.start()
    helper.join()
    return seen[0]


def test_background_lanes_and_their_helper_threads_run_below_the_lanes_a_person_waits_for():
    """On Linux the lanes no one waits for run lower; elsewhere nothing is lowered (lowering a
    thread there would lower the whole process)."""
    lanes = Lanes()
    normal = thread_priority()
    lowered = min(19, normal + BACKGROUND_NICENESS) if PER_THREAD_PRIORITY else normal
    assert BACKGROUND_NICENESS > 0
    for lane in ("files", "embed", "tables", "vectors", "jobs", "registries"):
        assert lanes.submit(lane, thread_priority).result(timeout=30) == lowered, lane
    assert lanes.submit("embed", priority_of_a_helper_thread).result(timeout=30) == lowered
    for lane in WAITED_FOR_LANES:
        assert lanes.submit(lane, thread_priority).result(timeout=30) == normal, lane
        assert lanes.submit(lane, priority_of_a_helper_thread).result(timeout=30) == normal, lane
    assert thread_priority() == normal  # the caller's own thread is left as it was
