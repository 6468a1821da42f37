"""The HNSW file beside a large SQLite index (ann.py): recall, changes reaching it, crash repair.

The threshold is lowered so a few hundred papers get the file; vectors are seeded random unit
vectors (the graph's recall on them is a harder case than on real embeddings). A crash is a
real SIGKILL of a process that committed new vectors to SQLite and had not yet updated the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from vector_support import DIMENSION, unit_vectors
from vector_support import papers as numbered_papers

from citewise.bib.index import ann
from citewise.bib.index.rebuild import rebuild_index
from citewise.bib.index.store import Index
from citewise.bib.index.vector_matrix import refreshed
from citewise.bib.model import Reference
from citewise.server.cli import main

PAPERS = 400


def papers(start: int, count: int) -> list[Reference]:
    return numbered_papers(start, count, "approximate neighbours", "2020")


def exact(index: Index, query: np.ndarray, k: int = 10) -> list[int]:
    ids, matrix = index.load_embeddings(DIMENSION)
    return ids[np.argsort(-(matrix.astype(np.float32) @ query))[:k]].tolist()


def recall_at_10(index: Index, queries: np.ndarray) -> float:
    """The share of exact search's 10 best that `Index.nearest` finds, over all the queries."""
    found = [len(set(exact(index, q)) & {row for row, _ in index.nearest(q, 10, None)}) for q in queries]
    return sum(found) / (10 * len(queries))


def embed_all(index: Index, seed: int) -> None:
    pending = [item.row_id for item in index.needing_embedding()]
    index.set_model("test-model", DIMENSION)
    index.store_embeddings(pending, unit_vectors(len(pending), seed))


@pytest.fixture
def large_index(tmp_path, monkeypatch):
    monkeypatch.setattr(ann, "ANN_THRESHOLD", 100)
    path = tmp_path / "index.sqlite"
    with Index.open(path) as index:
        index.add_references(papers(0, PAPERS))
        embed_all(index, seed=1)
        assert not ann.ann_path(path).exists()  # written by sync, not by each commit
        index.sync_ann()
    return path


def test_graph_recall_against_exact_search(large_index):
    with Index.open(large_index, read_only=True) as index:
        assert recall_at_10(index, unit_vectors(50, seed=9)) >= 0.98
        assert index.db.execute("SELECT count(*) FROM ann_changes").fetchone()[0] == 0


def test_the_graph_chooses_candidates_and_the_stored_vectors_score_them(large_index):
    """The graph holds int8 vectors (half the pages of float16); its distances only choose the
    candidates (RESCORED at least), which are scored again from the float16 vectors in SQLite: the
    rows and scores exact search of a smaller index gives, best first."""
    assert str(ann.open_graph(ann.ann_path(large_index), view=True).dtype) == "ScalarKind.I8"
    with Index.open(large_index, read_only=True) as index:
        every_vector = refreshed(index.db, None, DIMENSION)  # what a smaller index searches
        for query in unit_vectors(20, seed=5):
            assert index.nearest(query, 10, None) == every_vector.nearest(query, 10, None)


def test_a_graph_read_from_its_file_searches_with_citewise_expansion(large_index):
    """The file keeps the graph, not the search expansion: read back with usearch's default (64),
    recall@10 on real vectors fell to 0.89."""
    reader = ann.AnnReader(large_index)
    with Index.open(large_index, read_only=True) as index:
        reader.nearest(index.db, unit_vectors(1, seed=4)[0], 10)
    assert reader._graph.expansion_search == ann.EXPANSION_SEARCH > 64
    assert reader._graph.connectivity == ann.CONNECTIVITY
    assert ann.open_graph(ann.ann_path(large_index), view=False).expansion_add == ann.EXPANSION_ADD


def test_a_graph_built_sparser_before_keeps_serving_and_taking_changes(large_index, capsys):
    """Graphs written before CONNECTIVITY rose from 16 to 24 keep their own connectivity: they are
    searched and extended as they are, not rebuilt behind the user's back, until the user asks
    (`citewise index graph --rebuild`)."""
    with Index.open(large_index, read_only=True) as index:
        ids, matrix = index.load_embeddings(DIMENSION)
    older = ann.graph_class()(ndim=DIMENSION, metric="cos", dtype=ann.GRAPH_DTYPE, connectivity=16, expansion_add=128)
    ann.add_to_graph(older, np.asarray(ids, dtype=np.uint64), matrix.astype(np.float32))
    older.save(str(ann.ann_path(large_index)))
    with Index.open(large_index) as index:
        index.add_references(papers(PAPERS, 50))
        embed_all(index, seed=2)
        index.sync_ann()
    graph = ann.open_graph(ann.ann_path(large_index), view=True)
    assert (graph.connectivity, len(graph)) == (16, PAPERS + 50)
    with Index.open(large_index, read_only=True) as index:
        assert recall_at_10(index, unit_vectors(50, seed=9)) >= 0.98
    # The README's way to the new settings: `citewise index graph` names the older graph, and
    # `--rebuild` builds it again.
    assert cli(capsys, "index", "graph", "--index", str(large_index)) == 0
    assert capsys.readouterr().out.endswith(f"{PAPERS + 50} papers, connectivity 16, 0.1 MB, up to date; an older "
                                            f"citewise built it: `--rebuild` builds it at connectivity {ann.CONNECTIVITY}, "
                                            "for better recall\n")
    assert cli(capsys, "index", "graph", "--rebuild", "--index", str(large_index)) == 0
    assert capsys.readouterr().out.startswith(f"graph {ann.ann_path(large_index)}: {PAPERS + 50} papers, connectivity {ann.CONNECTIVITY}")
    graph = ann.open_graph(ann.ann_path(large_index), view=True)
    assert (graph.connectivity, len(graph)) == (ann.CONNECTIVITY, PAPERS + 50)
    with Index.open(large_index, read_only=True) as index:
        assert recall_at_10(index, unit_vectors(50, seed=9)) >= 0.98


def cli(capsys, *args: str) -> int:
    """`citewise ARGS` in this process (so the lowered threshold holds), at this process's priority."""
    capsys.readouterr()
    return main([*args, *(["--nice", "0"] if args[:2] == ("index", "graph") else [])])


def test_a_lost_graph_is_named_by_stats_and_built_by_index_graph(large_index, capsys):
    """A large index whose file was lost (nothing changed since) still answers, exactly; `index
    stats` says the graph is missing and how to build it; `index graph` builds it from every
    vector, after which stats counts its papers."""
    ann.ann_path(large_index).unlink()
    assert cli(capsys, "index", "stats", "--index", str(large_index)) == 0
    assert (f"graph       missing ({ann.ann_path(large_index)}): dense search holds every vector in memory "
            "until `citewise index graph` builds it") in capsys.readouterr().out.splitlines()
    with Index.open(large_index) as index:  # opening a writer leaves the build to the command
        query = unit_vectors(1, seed=9)[0]
        assert [row for row, _ in index.nearest(query, 10, None)] == exact(index, query)
    assert not ann.ann_path(large_index).exists()
    assert cli(capsys, "index", "graph", "--index", str(large_index)) == 0
    assert capsys.readouterr().out.startswith(f"graph {ann.ann_path(large_index)}: {PAPERS} papers, "
                                              f"connectivity {ann.CONNECTIVITY}")
    with Index.open(large_index, read_only=True) as index:
        assert recall_at_10(index, unit_vectors(50, seed=9)) >= 0.98
    assert cli(capsys, "index", "stats", "--json", "--index", str(large_index)) == 0
    graph = json.loads(capsys.readouterr().out)["graph"]
    assert graph["present"] and graph["papers"] == PAPERS and graph["changes_waiting"] == 0 and graph["size_bytes"] > 0


def stored_unsynced(path, start: int, count: int, seed: int) -> None:
    """`count` new papers with vectors committed to SQLite, the graph not yet told (as after a crash)."""
    with Index.open(path) as index:
        index.add_references(papers(start, count))
        embed_all(index, seed)


def test_opening_never_waits_for_a_process_writing_the_graph(large_index):
    """While another process holds the graph's lock (`index add` folding in a million papers), a
    writer opening the index (a language server) returns at once; searches score the listed rows
    exactly, and the next sync folds them in."""
    stored_unsynced(large_index, PAPERS, 20, seed=2)
    with open(str(ann.ann_path(large_index)) + ".lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        opened: list[Index] = []
        opener = threading.Thread(target=lambda: opened.append(Index.open(large_index)), daemon=True)
        opener.start()
        opener.join(timeout=60)
        assert opened, "opening waited for the graph's lock"
        index = opened[0]
        assert index.db.execute("SELECT count(DISTINCT id) FROM ann_changes").fetchone()[0] == 20
        new_id = index.ids_for_keys([f"p{PAPERS + 5}"]).pop()
        assert index.nearest(index.vectors_of([new_id], DIMENSION)[0], 1, None)[0][0] == new_id
    index.sync_ann()
    assert len(ann.open_graph(ann.ann_path(large_index), view=True)) == PAPERS + 20
    index.close()


def test_searches_during_a_large_update_score_a_bounded_number_of_listed_rows(large_index, monkeypatch):
    """While a command stores vectors the graph does not hold yet (a large update under way), a
    reader reads each listed change once, scores the first LISTED_SCORED listed rows exactly, and
    never answers from a listed row's stale entry in the graph; the rest wait for the graph."""
    monkeypatch.setattr(ann, "LISTED_SCORED", 30)
    monkeypatch.setattr(ann, "REPAIR_ROWS", 10)  # a writer opening the index leaves the 40 listed
    new = unit_vectors(40, seed=2)
    stored_unsynced(large_index, PAPERS, 40, seed=2)  # rows PAPERS+1 .. PAPERS+40, listed in that order
    with Index.open(large_index, read_only=True) as reader:
        first_ids = [reader.ids_for_keys([f"p{PAPERS + n}"]).pop() for n in range(40)]
        assert [reader.nearest(new[n], 1, None)[0][0] for n in (0, 29)] == [first_ids[0], first_ids[29]]
        assert first_ids[35] not in {row for row, _ in reader.nearest(new[35], 10, None)}  # past the bound
        listed = reader._ann._listed
        assert len(listed.slots) == 30 and listed.position == reader.db.execute("SELECT max(seq) FROM ann_changes").fetchone()[0]

        with Index.open(large_index) as writer:  # a listed row and a graph row embedded again
            old_row = writer.ids_for_keys(["p3"]).pop()
            old_vector = writer.vectors_of([old_row], DIMENSION)[0]
            moved = unit_vectors(2, seed=77)
            writer.store_embeddings([first_ids[0], old_row], moved)
        assert reader.nearest(moved[0], 1, None)[0][0] == first_ids[0]  # read again: its new vector
        for vector in (moved[1], old_vector):  # listed past the bound: neither its new vector nor its stale entry
            assert old_row not in {row for row, _ in reader.nearest(vector, 10, None)}
        assert len(listed.slots) == 30

        with Index.open(large_index) as writer:
            writer.sync_ann()
        assert [reader.nearest(vector, 1, None)[0][0] for vector in (new[35], moved[1])] == [first_ids[35], old_row]
        assert not listed.slots and listed.first is None  # the graph holds them all now


def test_embedding_folds_its_vectors_into_the_graph_as_it_goes(tmp_path, monkeypatch, embedder):
    """`embed_pending` brings a large index's graph up to date every FOLD_ROWS papers, so the rows
    each search scores exactly stay few while a long run goes on."""
    from citewise.bib.index.embed import embed_pending

    monkeypatch.setattr(ann, "ANN_THRESHOLD", 100)
    monkeypatch.setattr("citewise.bib.index.embed.FOLD_ROWS", 100)
    monkeypatch.setattr("citewise.bib.index.embed.PENDING_WINDOW", 100)
    path = tmp_path / "index.sqlite"
    in_graph: dict[int, int] = {}

    def note(done: int, total: int) -> None:
        graph = ann.ann_path(path)
        in_graph[done] = len(ann.open_graph(graph, view=True)) if graph.exists() else 0

    with Index.open(path) as index:
        index.add_references(papers(0, 300))
        assert embed_pending(index, embedder, note) == 300
    assert in_graph == {100: 0, 200: 100, 300: 200}
    assert len(ann.open_graph(ann.ann_path(path), view=True)) == 300


def test_importing_vectors_folds_them_into_the_graph_as_it_goes(tmp_path, monkeypatch):
    """`index vectors FILE` likewise: the graph takes the vectors every FOLD_ROWS, then the rest."""
    from citewise.bib.index import vectors_file

    monkeypatch.setattr(ann, "ANN_THRESHOLD", 100)
    monkeypatch.setattr(vectors_file, "FOLD_ROWS", 100)
    monkeypatch.setattr(vectors_file, "BATCH", 50)
    path, source = tmp_path / "index.sqlite", tmp_path / "vectors.jsonl"
    source.write_text("".join(json.dumps({"key": f"p{n}", "vector": vector.tolist()}) + "\n"
                              for n, vector in enumerate(unit_vectors(250, seed=4))), encoding="utf-8")
    graph_sizes: list[int] = []
    real_sync = Index.sync_ann

    def sync_and_note(index: Index, *args, **kwargs) -> None:  # the real sync; the test notes what it left
        real_sync(index, *args, **kwargs)
        graph_sizes.append(len(ann.open_graph(ann.ann_path(path), view=True)) if ann.ann_path(path).exists() else 0)

    with Index.open(path) as index:
        index.add_references(papers(0, 250))
        monkeypatch.setattr(Index, "sync_ann", sync_and_note)
        assert vectors_file.import_vectors(index, source, "test-model").stored == 250
    assert graph_sizes == [100, 200, 250]


def test_a_model_of_another_dimension_gets_a_graph_of_its_own(large_index, capsys):
    """`index reembed --model` with a model of another dimension: the old model's graph is neither
    searched nor extended (usearch failed the first sync, and each later one, with "The number of
    vector dimensions doesn't match!"); searches are exact until the first fold builds a graph of
    the new vectors."""
    dimension = 8
    vectors = np.random.default_rng(3).standard_normal((PAPERS, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Index.open(large_index) as index:
        ids = sorted(row for row, in index.db.execute("SELECT id FROM refs"))
        index.clear_embeddings()
        index.set_model("another-model", dimension)
        index.store_embeddings(ids[:150], vectors[:150])
    assert cli(capsys, "index", "stats", "--index", str(large_index)) == 0
    assert (f"graph       of another model's vectors ({ann.ann_path(large_index)}: {DIMENSION} dimensions, the "
            f"index's have {dimension}): dense search is exact until `citewise index graph` builds it again") \
        in capsys.readouterr().out
    with Index.open(large_index) as index:  # opening (a repair) leaves the old graph alone
        assert ann.open_graph(ann.ann_path(large_index), view=True).ndim == DIMENSION
        assert index.nearest(vectors[7], 1, None)[0][0] == ids[7]  # exact meanwhile
        index.store_embeddings(ids[150:], vectors[150:])
        index.sync_ann()
    graph = ann.open_graph(ann.ann_path(large_index), view=True)
    assert (graph.ndim, len(graph)) == (dimension, PAPERS)
    with Index.open(large_index, read_only=True) as index:
        assert [index.nearest(vectors[n], 1, None)[0][0] for n in (7, 300)] == [ids[7], ids[300]]
    assert cli(capsys, "index", "stats", "--index", str(large_index), "--json") == 0
    assert json.loads(capsys.readouterr().out)["graph"]["dimensions"] == dimension


def test_a_fold_after_every_vector_was_cleared_builds_the_graph_again(large_index):
    """`index reembed` clears every vector: its first fold builds a graph of the vectors there are
    instead of taking every old node out of the old graph (on 30,000 papers the reembed's folds
    took 13.0 s instead of 20.7); later folds add to it."""
    size_before = ann.ann_path(large_index).stat().st_size
    with Index.open(large_index) as index:
        ids = sorted(row for row, in index.db.execute("SELECT id FROM refs"))
        index.clear_embeddings()
        index.set_model("test-model", DIMENSION)
        vectors = unit_vectors(PAPERS, seed=8)
        index.store_embeddings(ids[:50], vectors[:50])
        totals: list[int] = []
        index.sync_ann(on_progress=lambda done, total: totals.append(total))
        assert totals[-1] == 50  # a build of the 50 stored vectors, not an update of the 400 listed rows
        assert len(ann.open_graph(ann.ann_path(large_index), view=True)) == 50
        assert ann.ann_path(large_index).stat().st_size < size_before / 4
        index.store_embeddings(ids[50:], vectors[50:])
        index.sync_ann(on_progress=lambda done, total: totals.append(total))
        assert totals[-1] == PAPERS - 50  # an update
        assert recall_at_10(index, unit_vectors(30, seed=9)) >= 0.98


def test_opening_repairs_a_few_changes_and_leaves_more_to_the_commands(large_index, monkeypatch, capsys):
    """Opening folds in up to REPAIR_ROWS listed changes (a crash's); more, and a missing file, are
    left to `index graph` (or the next command storing vectors), which `index stats` names."""
    monkeypatch.setattr(ann, "REPAIR_ROWS", 25)
    stored_unsynced(large_index, PAPERS, 20, seed=2)
    with Index.open(large_index):
        pass
    assert len(ann.open_graph(ann.ann_path(large_index), view=True)) == PAPERS + 20
    stored_unsynced(large_index, PAPERS + 20, 30, seed=3)
    with Index.open(large_index):
        pass
    assert len(ann.open_graph(ann.ann_path(large_index), view=True)) == PAPERS + 20
    assert cli(capsys, "index", "stats", "--index", str(large_index)) == 0
    assert "; 30 changed papers wait to reach it" in capsys.readouterr().out
    assert cli(capsys, "index", "graph", "--index", str(large_index)) == 0
    assert len(ann.open_graph(ann.ann_path(large_index), view=True)) == PAPERS + 50


def test_a_damaged_graph_is_named_and_built_again(large_index, capsys):
    """A file usearch cannot read: stats says so and searches are exact; the next writer with
    changes builds the graph again from every vector instead of failing, and so does `index
    graph` when nothing changed."""
    graph_path = ann.ann_path(large_index)
    graph_path.write_bytes(b"not a graph" * 100)
    assert cli(capsys, "index", "stats", "--index", str(large_index)) == 0
    assert (f"graph       damaged ({graph_path}): `citewise index graph --rebuild` builds it again"
            in capsys.readouterr().out.splitlines())
    with Index.open(large_index, read_only=True) as index:  # searches stay right meanwhile
        query = unit_vectors(1, seed=9)[0]
        assert [row for row, _ in index.nearest(query, 10, None)] == exact(index, query)
    assert cli(capsys, "index", "graph", "--index", str(large_index)) == 0
    assert len(ann.open_graph(graph_path, view=True)) == PAPERS
    graph_path.write_bytes(b"")
    stored_unsynced(large_index, PAPERS, 10, seed=2)
    assert graph_path.stat().st_size == 0  # opening leaves the build to a command
    with Index.open(large_index) as index:
        index.sync_ann()
    assert len(ann.open_graph(graph_path, view=True)) == PAPERS + 10


def test_below_the_threshold_index_graph_builds_nothing(tmp_path, capsys):
    path = tmp_path / "small.sqlite"
    with Index.open(path) as index:
        index.add_references(papers(0, 20))
        embed_all(index, seed=1)
    assert cli(capsys, "index", "graph", "--rebuild", "--index", str(path)) == 0
    assert capsys.readouterr().out.strip() == (f"20 papers hold vectors; exact search serves an index below "
                                               f"{ann.ANN_THRESHOLD}, so it needs no graph")
    assert not ann.ann_path(path).exists()
    assert cli(capsys, "index", "stats", "--index", str(path)) == 0
    assert "graph" not in capsys.readouterr().out


def test_added_and_deleted_papers_reach_the_graph(large_index):
    with Index.open(large_index) as index:
        index.add_references(papers(PAPERS, 50))
        embed_all(index, seed=2)
        index.delete("p7")
        new_id = index.ids_for_keys(["p420"]).pop()
        vector = index.vectors_of([new_id], DIMENSION)[0]
        assert index.nearest(vector, 1, None)[0][0] == new_id  # before sync: scored exactly from SQLite
        index.sync_ann()
        graph = ann.open_graph(ann.ann_path(large_index), view=True)
        assert graph.contains(new_id) and len(graph) == PAPERS + 50 - 1
        assert index.db.execute("SELECT count(*) FROM ann_changes").fetchone()[0] == 0
        assert index.nearest(vector, 1, None)[0][0] == new_id


def test_every_paper_in_a_young_graph_is_reachable(large_index):
    """Concurrent insertion into a small graph left some nodes unreachable (ann.SERIAL_NODES)."""
    with Index.open(large_index) as index:
        index.add_references(papers(PAPERS, 50))
        embed_all(index, seed=3)
        index.sync_ann()
        ids, matrix = index.load_embeddings(DIMENSION)
        lost = [row for row, vector in zip(ids.tolist(), matrix.astype(np.float32))
                if index.nearest(vector, 1, None)[0][0] != row]
        assert not lost


CRASHING_WRITER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from citewise.bib.index import ann
    from citewise.bib.index.store import Index
    from citewise.bib.model import Reference
    ann.ANN_THRESHOLD = 100
    with Index.open(sys.argv[1]) as index:
        index.add_references([Reference(key=f"late{n}", title=f"Late paper {n} on crash repair") for n in range(30)])
        pending = [item.row_id for item in index.needing_embedding()]
        vectors = np.random.default_rng(5).standard_normal((len(pending), 32)).astype(np.float32)
        index.store_embeddings(pending, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        index.delete("p3")
        os.kill(os.getpid(), signal.SIGKILL)  # committed to SQLite, the graph file not updated
""")


def test_crash_between_sqlite_and_graph_is_repaired_on_next_open(large_index):
    with Index.open(large_index, read_only=True) as before:
        deleted = before.ids_for_keys(["p3"]).pop()
        deleted_vector = before.vectors_of([deleted], DIMENSION)[0]
    crashed = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(large_index)], capture_output=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    graph_path = ann.ann_path(large_index)
    stale = ann.open_graph(graph_path, view=True)
    with Index.open(large_index, read_only=True) as reader:
        late = reader.ids_for_keys(["late4"]).pop()
        assert not stale.contains(late) and stale.contains(deleted)
        vector = reader.vectors_of([late], DIMENSION)[0]
        assert reader.nearest(vector, 1, None)[0][0] == late  # answers stay right before the repair
        assert deleted not in {row for row, _ in reader.nearest(deleted_vector, 10, None)}
    with Index.open(large_index) as writer:  # the next open repairs the file
        assert writer.db.execute("SELECT count(*) FROM ann_changes").fetchone()[0] == 0
    repaired = ann.open_graph(graph_path, view=True)
    assert repaired.contains(late) and not repaired.contains(deleted) and len(repaired) == PAPERS + 30 - 1


INTERRUPTED_SYNC = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    from citewise.bib.index import ann
    from citewise.bib.index.store import Index
    from citewise.bib.model import Reference
    ann.ANN_THRESHOLD, ann.BUILD_CHUNK, ann.CHECKPOINT_ROWS = 100, 50, 100
    write = ann._write_atomically
    first, count, crash_at = (int(arg) for arg in sys.argv[2:])

    def write_then_crash(path, data):
        write(path, data)
        if json.loads(data)["through"] >= crash_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a checkpoint is written, the sync is not done

    ann._write_atomically = write_then_crash
    with Index.open(sys.argv[1]) as index:
        index.add_references([Reference(key=f"p{n}", title=f"Paper number {n} about checkpoints")
                              for n in range(first, first + count)])
        pending = [item.row_id for item in index.needing_embedding()]
        vectors = np.random.default_rng(first).standard_normal((len(pending), 32)).astype(np.float32)
        index.set_model("test-model", 32)
        index.store_embeddings(pending, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        index.sync_ann()
""")


def interrupted_then_continued(path, monkeypatch, first: int, count: int, crash_at: int,
                               deleted_key: str, changed_key: str, progress_kept: bool = True) -> list[int]:
    """Keys added to the graph by the sync that continues one killed at its checkpoint past row
    `crash_at`, after another writer deleted one row and gave another a new vector. Without
    `progress_kept`, the checkpoint names only its change, as the first checkpoints did."""
    crashed = subprocess.run([sys.executable, "-c", INTERRUPTED_SYNC, str(path), str(first), str(count), str(crash_at)],
                             capture_output=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    building = ann.ann_path(path).with_name(ann.ann_path(path).name + ".building")
    started = ann.ann_path(path).with_name(ann.ann_path(path).name + ".started")
    assert building.exists()
    if not progress_kept:
        started.write_text(json.dumps({"seq": json.loads(started.read_text())["seq"]}))
    monkeypatch.setattr(ann, "ANN_THRESHOLD", 100)
    added: list[int] = []
    add = ann.add_to_graph
    monkeypatch.setattr(ann, "add_to_graph", lambda graph, keys, vectors: (added.extend(keys.tolist()), add(graph, keys, vectors)))
    with Index.open(path, read_only=True) as reader:
        deleted, changed = reader.ids_for_keys([deleted_key]).pop(), reader.ids_for_keys([changed_key]).pop()
    with sqlite3.connect(path) as other_writer:  # commits the triggers list; it does not sync the graph
        other_writer.execute("DELETE FROM refs WHERE id = ?", (deleted,))
        other_writer.execute("UPDATE refs SET embedding = ? WHERE id = ?",
                             (unit_vectors(1, seed=11)[0].astype(np.float16).tobytes(), changed))
    with Index.open(path, create=False) as index:
        assert building.exists()  # opening a writer leaves the build to a command (`index graph`, or one storing vectors)
        index.sync_ann()
        graph = ann.open_graph(ann.ann_path(path), view=True)
        assert not graph.contains(deleted) and not building.exists()
        assert index.nearest(unit_vectors(1, seed=11)[0], 1, None)[0][0] == changed
        ids, matrix = index.load_embeddings(DIMENSION)
        assert len(graph) == len(ids)
        assert all(index.nearest(vector, 1, None)[0][0] == row for row, vector in zip(ids.tolist(), matrix.astype(np.float32)))
        return sorted(added)


@pytest.mark.parametrize("progress_kept", [True, False])
def test_an_interrupted_first_build_continues_from_its_checkpoint(tmp_path, monkeypatch, progress_kept):
    """A first build killed at its checkpoint of 200 rows continues from them; rows of the
    checkpoint deleted or given another vector meanwhile are as SQLite holds them in the graph."""
    added = interrupted_then_continued(tmp_path / "index.sqlite", monkeypatch, 0, PAPERS, 200, "p3", "p5", progress_kept)
    assert added == [6] + list(range(201, PAPERS + 1))  # not the other 199 again


def test_an_interrupted_large_update_continues_from_its_checkpoint(large_index, monkeypatch):
    """300 papers added to a graph of 400: the update killed at its checkpoint past row 500 folds in
    the rest, and again the rows of the checkpoint that changed since."""
    added = interrupted_then_continued(large_index, monkeypatch, PAPERS, 300, 500, "p3", "p450")
    assert added == [451] + list(range(501, PAPERS + 300 + 1))


INTERRUPTED_REBUILD = textwrap.dedent("""
    import json, os, signal, sys
    from citewise.bib.index import ann
    from citewise.server.cli import main
    ann.ANN_THRESHOLD, ann.BUILD_CHUNK, ann.CHECKPOINT_ROWS = 100, 50, 100
    write = ann._write_atomically

    def write_then_crash(path, data):
        write(path, data)
        if json.loads(data)["through"] >= 200:
            os.kill(os.getpid(), signal.SIGKILL)  # a checkpoint is written, the rebuild is not done

    ann._write_atomically = write_then_crash
    main(["index", "graph", "--rebuild", "--nice", "0", "--index", sys.argv[1]])
""")


def test_index_graph_shows_its_progress_on_a_terminal(large_index):
    """On a terminal (stderr a pty) `index graph --rebuild` draws the bar the other bulk commands draw."""
    script = textwrap.dedent("""
        import sys
        from citewise.bib.index import ann
        from citewise.server.cli import main
        ann.ANN_THRESHOLD, ann.BUILD_CHUNK = 100, 50
        sys.exit(main(["index", "graph", "--rebuild", "--nice", "0", "--index", sys.argv[1]]))
    """)
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        result = subprocess.run([sys.executable, "-c", script, str(large_index)], stdout=subprocess.PIPE,
                                stderr=follower, timeout=300)
        os.close(follower)
        drawn = b""
        while select.select([terminal], [], [], 0.5)[0]:
            try:
                chunk = terminal.read(4096)
            except OSError:  # the pty's other end is closed: all is read
                break
            if not chunk:
                break
            drawn += chunk
    assert result.returncode == 0, drawn
    last = drawn.decode().replace("\r\n", "\n").split("\r")[-1]
    assert last.startswith("graph") and f"{PAPERS} papers" in last and "#" * 30 in last


def test_an_interrupted_rebuild_serves_the_old_graph_and_continues(large_index, monkeypatch, capsys):
    """`index graph --rebuild` killed at its checkpoint of 200 rows: the old file still serves every
    paper; run again, it continues from the checkpoint and replaces the file."""
    before = ann.ann_path(large_index).stat().st_ino
    crashed = subprocess.run([sys.executable, "-c", INTERRUPTED_REBUILD, str(large_index)], capture_output=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert ann.ann_path(large_index).stat().st_ino == before
    with Index.open(large_index, read_only=True) as index:
        assert recall_at_10(index, unit_vectors(20, seed=9)) >= 0.98
    added: list[int] = []
    add = ann.add_to_graph
    monkeypatch.setattr(ann, "add_to_graph", lambda graph, keys, vectors: (added.extend(keys.tolist()), add(graph, keys, vectors)))
    assert cli(capsys, "index", "graph", "--rebuild", "--index", str(large_index)) == 0
    assert sorted(added) == list(range(201, PAPERS + 1))
    assert ann.ann_path(large_index).stat().st_ino != before
    assert len(ann.open_graph(ann.ann_path(large_index), view=True)) == PAPERS


def test_a_rebuilt_index_does_not_search_the_old_files_graph(large_index):
    """The graph names rows by the old file's ids; `index rebuild` keeps it with the old file."""
    with Index.open(large_index) as index:
        index.add_references([Reference(key="small", title="A paper the rebuilt index reads again")])
        index.db.execute("UPDATE refs SET sources = ? WHERE key = 'small'", (str(large_index.parent / "lib.bib"),))
    (large_index.parent / "lib.bib").write_text("@article{small, title = {A paper the rebuilt index reads again}}\n")
    result = rebuild_index(large_index)
    assert ann.ann_path(result.kept_as).exists() and not ann.ann_path(large_index).exists()
    with Index.open(large_index) as rebuilt:
        rebuilt.set_model("test-model", DIMENSION)
        rebuilt.store_embeddings([1], unit_vectors(1, seed=12))
        assert [row for row, _ in rebuilt.nearest(unit_vectors(1, seed=13)[0], 10, None)] == [1]


def test_reapplying_changes_is_harmless(large_index):
    with Index.open(large_index) as index:
        index.db.execute("INSERT INTO ann_changes(id) SELECT id FROM refs WHERE id <= 20")
        index.sync_ann()
        graph = ann.open_graph(ann.ann_path(large_index), view=True)
        assert len(graph) == PAPERS
        query = index.vectors_of([5], DIMENSION)[0]
        assert index.nearest(query, 1, None)[0][0] == 5


def test_a_large_index_never_holds_every_vector(large_index):
    """With the graph beside it, a reader's background load reads nothing."""
    with Index.open(large_index, read_only=True) as index:
        index.load_vectors(DIMENSION)
        assert index.nearest(unit_vectors(1, seed=9)[0], 10, set(range(1, PAPERS + 1, 3)))
        assert index._matrix is None, "no matrix of every vector was loaded"
        assert index.vectors_of([1, 2], DIMENSION).shape == (2, DIMENSION) and index._matrix is None


def test_a_search_limited_to_some_rows_filters_the_graphs_candidates_or_scores_a_few_rows(large_index, monkeypatch):
    """A broad limit (years, a source) filters the graph's candidates, asking for enough that about
    FILTER_MARGIN times the rows wanted are allowed; a limit to fewer rows than that scores them
    exactly, also those the graph's candidates would never reach. Listed rows are filtered too.
    Before, every allowed row was read into float32: 1.5 s and 220 MB for half of the
    300,000-paper benchmark."""
    monkeypatch.setattr(ann, "RESCORED", 10)
    monkeypatch.setattr(ann, "REPAIR_ROWS", 0)  # the writer below leaves its rows listed
    query = unit_vectors(1, seed=9)[0]
    stored_unsynced(large_index, PAPERS, 2, seed=2)
    with Index.open(large_index) as writer:  # two listed rows, nearest of all to the query
        listed_ids = [writer.ids_for_keys([f"p{PAPERS + n}"]).pop() for n in range(2)]
        writer.store_embeddings(listed_ids, np.stack([query, query]))
    with Index.open(large_index, read_only=True) as index:
        every_vector = refreshed(index.db, None, DIMENSION)  # exact search, as a smaller index runs it
        ranked = [row for row, _ in every_vector.nearest(query, PAPERS + 2, None)]

        broad = set(range(1, PAPERS + 1, 2)) | {listed_ids[0]}  # 201 rows: the graph's 40 best, filtered
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)  # the statements with their values
        found = index.nearest(query, 10, broad)
        index.db.set_trace_callback(None)
        vectors_read = [sql[sql.index("IN (") + 4:].split(")")[0].split(",") for sql in statements
                        if sql.startswith("SELECT id, embedding FROM refs WHERE id IN (")]
        assert 0 < sum(map(len, vectors_read)) <= 42, "the allowed candidates' vectors only, and the listed rows'"
        assert found[0][0] == listed_ids[0] and listed_ids[1] not in {row for row, _ in found}
        assert found == every_vector.nearest(query, 10, broad)
        assert index._ann._listed.slots, "the listed rows were scored from the reader's list"

        narrow = set(ranked[-20:])  # the 20 farthest rows: none among the graph's best candidates
        assert index.nearest(query, 10, narrow) == every_vector.nearest(query, 10, narrow)
        assert len(index.nearest(query, 50, narrow)) == 20
        assert index.nearest(query, 10, set()) == []


def test_a_process_that_opened_a_graph_can_load_the_encoder_next(tmp_path):
    """`index add` into a large index syncs its graph, then embeds: usearch is loaded before the
    encoder's onnxruntime, which crashed the process (a segmentation fault) until ann.py loaded
    onnxruntime first. In a fresh process, since the order of first imports is what matters."""
    script = textwrap.dedent("""
        from pathlib import Path
        import numpy as np
        from citewise.bib.index import ann
        graph = ann.new_graph(384)
        graph.add(np.arange(3, dtype=np.uint64), np.eye(3, 384, dtype=np.float32))
        from citewise.bib.index.bert import BertEncoder, pooling_mode
        from citewise.bib.index.embed import bundled_model_dir
        folder = Path(bundled_model_dir())
        vector = BertEncoder(folder, pooling_mode(folder)).encode(["a graph first, then the model"], 1, 128)[0]
        print(len(graph), round(float(vector @ vector), 3))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "1.0"]
