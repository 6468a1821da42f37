"""The background lanes: bulk work waits for a quiet features lane; `busy` names the lanes at work."""

from __future__ import annotations

import threading
import time

from citewise.server.features.background import QUIET_WAIT_S, Lanes


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

