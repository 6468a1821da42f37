"""What the lanes build lives long and is kept out of the garbage collector's walk; bulk work on
the lanes (a .bib's fields and their conversion, the candidate tables) pauses while suggestions
are computed, and stops pausing once a request waits for it (background.py)."""

from __future__ import annotations

import gc
import threading
import weakref
from pathlib import Path

import pytest
from features_support import build_index

from citewise.server.features import background, completion_tables
from citewise.server.features.background import Lanes
from citewise.server.features.bibliographies import Bibliographies, BibState
from citewise.server.features.completion_tables import BibTable, read_index_table
from citewise.server.features.open_documents import OpenDocuments


@pytest.fixture(autouse=True)
def _unfrozen():
    """Whatever a test froze goes back to the collector afterwards."""
    yield
    gc.unfreeze()


def _walked(obj: object) -> bool:
    """Whether a full collection walks `obj` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def _bib_text(entries: int, tag: str = "") -> str:
    return "\n".join(f"@article{{key{n}{tag},\n  title = {{Paper number {n} on sparse attention}},\n"
                     f"  author = {{Family{n}, Given and Other, Person}},\n  year = {{2020}}\n}}\n"
                     for n in range(entries))


def test_what_a_keeping_lane_builds_is_out_of_the_collectors_walk():
    kept, plain = Lanes(keep_built=True), Lanes()
    built = kept.submit("tables", lambda: [[n] for n in range(10)]).result(30)
    kept.wait_idle("tables")
    assert not _walked(built) and gc.is_tracked(built)
    not_kept = plain.submit("tables", lambda: [[n] for n in range(10)]).result(30)
    plain.wait_idle("tables")
    assert _walked(not_kept), "a server that does not keep"
    embedded = kept.submit("embed", lambda: [[n] for n in range(10)]).result(30)
    kept.wait_idle("embed")
    assert _walked(embedded), "a lane that does not keep"


def test_keeping_what_a_job_built_waits_for_the_suggestions_but_its_result_does_not(monkeypatch):
    monkeypatch.setattr(background, "FOREGROUND_WAIT_S", 60.0)
    lanes = Lanes(keep_built=True)
    release = _held_foreground(lanes)
    try:
        built = lanes.submit("tables", lambda: [[n] for n in range(10)]).result(30)
        assert not lanes["tables"].wait_idle(0.3) and _walked(built), "no collection during a suggestion"
    finally:
        release.set()
    assert lanes["tables"].wait_idle(30) and not _walked(built)


def test_a_frozen_bib_state_replaced_is_freed_without_the_collector(tmp_path: Path):
    bib = tmp_path / "refs.bib"
    bib.write_text(_bib_text(50), encoding="utf-8")
    lanes = Lanes(keep_built=True)
    bibs = Bibliographies(OpenDocuments(), lanes)
    state = bibs.reload(str(bib))
    assert state is not None and len(state.references) == 50
    table = BibTable.of(state, lanes)
    lanes.keep_built()
    assert not _walked(state) and not _walked(table)
    gone_state, gone_table, gone_file = weakref.ref(state), weakref.ref(table), weakref.ref(state.file)
    del state, table
    bib.write_text(_bib_text(50, tag="b"), encoding="utf-8")
    gc.disable()
    try:
        assert bibs.reload(str(bib)) is not None
        assert gone_state() is None and gone_table() is None and gone_file() is None, \
            "no reference cycle holds a replaced state: reference counting frees it even when frozen"
    finally:
        gc.enable()


def _held_foreground(lanes: Lanes):
    """Enter `lanes.foreground()` on a thread of its own until the returned event is set."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lanes.foreground():
            entered.set()
            release.wait(60)

    threading.Thread(target=hold, daemon=True).start()
    assert entered.wait(30)
    return release


def _read_not_converted(tmp_path: Path, monkeypatch) -> tuple[Lanes, BibState]:
    """Lanes whose foreground waits are long, and a 20-entry .bib read but not yet converted."""
    monkeypatch.setattr(background, "FOREGROUND_WAIT_S", 60.0)
    bib = tmp_path / "refs.bib"
    bib.write_text(_bib_text(20), encoding="utf-8")
    lanes = Lanes()
    state = Bibliographies(OpenDocuments(), lanes).reload(str(bib))
    assert state is not None and state.ready and not state.converted
    return lanes, state


def test_converting_a_bib_on_a_lane_waits_while_suggestions_are_computed(tmp_path: Path, monkeypatch):
    lanes, state = _read_not_converted(tmp_path, monkeypatch)
    release = _held_foreground(lanes)
    job = lanes.submit("files", lambda: state.references)
    assert not job.done() and not _settles(job), "a suggestion in flight: the conversion pauses"
    release.set()
    assert len(job.result(30)) == 20


def test_a_request_waiting_for_a_paused_conversion_ends_the_pauses(tmp_path: Path, monkeypatch):
    lanes, state = _read_not_converted(tmp_path, monkeypatch)
    release = _held_foreground(lanes)
    try:
        converting = lanes.submit("files", lambda: state.references)
        assert not _settles(converting)
        request = lanes.submit("features", lambda: state.references)  # the suggestion itself needs them
        assert len(request.result(30)) == 20 and converting.result(30) is request.result()
    finally:
        release.set()


def test_on_the_features_thread_yielding_never_waits_for_the_foreground():
    lanes = Lanes()
    release = _held_foreground(lanes)
    try:
        assert lanes.submit("features", lanes.yield_to_foreground).result(30) is None
    finally:
        release.set()


def test_reading_a_bibs_fields_on_the_files_lane_pauses_for_suggestions_until_someone_waits(tmp_path: Path,
                                                                                           monkeypatch):
    monkeypatch.setattr(background, "FOREGROUND_WAIT_S", 60.0)
    bib = tmp_path / "fresh.bib"
    bib.write_text(_bib_text(30, tag="fields"), encoding="utf-8")  # entries no cache has seen
    lanes = Lanes()
    release = _held_foreground(lanes)
    try:
        state = Bibliographies(OpenDocuments(), lanes).reload(str(bib), wait=False)
        assert state is not None
        assert not state.file.fields_ready.wait(0.3), "paused between entries"
        assert state.file.wait_for_fields(30), "someone waits: the parse goes on during the suggestion"
    finally:
        release.set()
    assert len(state.file.entries) == 30 and all(entry.fields["year"] == "2020" for entry in state.file.entries)


def test_the_bib_table_pauses_between_entries(tmp_path: Path):
    bib = tmp_path / "refs.bib"
    bib.write_text(_bib_text(12), encoding="utf-8")
    state = Bibliographies(OpenDocuments(), Lanes()).reload(str(bib))
    assert isinstance(state, BibState)
    steps: list[int] = []
    table = BibTable.build(state, pause=lambda: steps.append(len(steps)))
    assert len(steps) == 12 and len(table.entries) == 12


def test_the_index_table_is_read_in_chunks_with_a_pause_between(tmp_path: Path, monkeypatch):
    index_path = build_index(tmp_path / "index.sqlite")
    monkeypatch.setattr(completion_tables, "LABEL_CHUNK", 4)
    chunks: list[int] = []
    table = read_index_table(str(index_path), pause=lambda: chunks.append(1))
    papers = len(table.keys)
    assert papers > 8 and len(chunks) == -(-papers // 4), "one pause before each chunk of LABEL_CHUNK papers"
    assert table.candidates(table.sorted_keys[0][:4], 3, lambda key: False)


def _settles(job, seconds: float = 0.3) -> bool:
    try:
        job.result(seconds)
    except TimeoutError:
        return False
    return True


def test_a_large_sort_is_done_in_steps_and_gives_what_sorted_gives(monkeypatch):
    words = [f"w{(n * 7919) % 2503:05d}" for n in range(2_503)]
    calls: list[int] = []
    monkeypatch.setattr(completion_tables, "SORT_STEP", 500)
    monkeypatch.setattr(completion_tables, "sorted", lambda items, **kw: calls.append(len(items)) or sorted(items, **kw),
                        raising=False)  # the module's own name shadows the builtin
    assert completion_tables.sorted_in_steps(words) == sorted(words)
    assert calls == [500, 500, 500, 500, 500, 3], "no C sort call of more than SORT_STEP items"
    assert completion_tables.sorted_in_steps(range(9), key=lambda n: -n) == list(range(8, -1, -1))


def test_a_long_job_on_a_keeping_lane_keeps_what_it_built_so_far_at_its_pauses(monkeypatch):
    monkeypatch.setattr(background, "KEEP_EVERY_S", 0.0)
    lanes = Lanes(keep_built=True)
    seen: list[bool] = []

    def long_job() -> None:
        first_part = [[n] for n in range(10)]
        lanes.yield_to_foreground()  # a pause between two steps
        seen.append(_walked(first_part))
        second_part = [[n] for n in range(10)]
        seen.append(_walked(second_part))

    lanes.submit("files", long_job).result(30)
    assert seen == [False, True], "kept at the pause, not before the next one"
    embed_job: list[bool] = []

    def on_a_lane_that_does_not_keep() -> None:
        built = [[n] for n in range(10)]
        lanes.yield_to_foreground()
        embed_job.append(_walked(built))

    lanes.submit("embed", on_a_lane_that_does_not_keep).result(30)
    assert embed_job == [True]
