"""The in-memory vector matrix of exact dense search (vector_matrix.py): changes by another writer
reach search at once, only the rows changed are read, and searches during a refresh see one
consistent snapshot.

The other writer is a second connection to the index file (SQLite sees it as another process
would). Blocks are made small so a few hundred papers span several; vectors are seeded random
unit vectors.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from vector_support import DIMENSION, unit_vectors
from vector_support import papers as numbered_papers

from citewise.bib.index import vector_matrix
from citewise.bib.index.store import Index
from citewise.bib.model import Reference

PAPERS = 400
BLOCK = 64


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(vector_matrix, "BLOCK_ROWS", BLOCK)


def papers(start: int, count: int) -> list[Reference]:
    return numbered_papers(start, count, "dense search", "2021")


def embed(index: Index, seed: int) -> dict[int, np.ndarray]:
    pending = [item.row_id for item in index.needing_embedding()]
    vectors = unit_vectors(len(pending), seed)
    index.store_embeddings(pending, vectors)
    index.sync_ann()
    return dict(zip(pending, vectors))


def row_of(index: Index, key: str) -> int:
    return int(index.db.execute("SELECT id FROM refs WHERE key = ?", (key,)).fetchone()[0])


@pytest.fixture
def indexes(tmp_path):
    """A writer with PAPERS embedded papers, and a reader whose matrix holds them."""
    location = tmp_path / "index.sqlite"
    with Index.open(location) as writer, Index.open(location) as reader:
        writer.set_model("test-model", DIMENSION)
        writer.add_references(papers(0, PAPERS))
        vectors = embed(writer, seed=1)
        assert reader.nearest(vectors[1], 1, None)[0][0] == 1
        yield writer, reader, vectors


def test_add_update_and_delete_by_another_writer_reach_search_at_once(indexes):
    writer, reader, vectors = indexes
    before = reader._matrix
    assert before is not None and len(before) == PAPERS and len(before.blocks) == -(-PAPERS // BLOCK)

    writer.add_references(papers(PAPERS, 1))
    added = row_of(writer, f"p{PAPERS}")
    added_vector = embed(writer, seed=2)[added]
    updated, updated_vector = 10, unit_vectors(1, seed=3)[0]
    writer.store_embeddings([updated], updated_vector[None, :])
    deleted = row_of(writer, "p299")
    writer.delete("p299")
    writer.sync_ann()

    assert reader.nearest(added_vector, 1, None)[0][0] == added
    assert reader.nearest(updated_vector, 1, None)[0] == (updated, pytest.approx(1.0, abs=1e-2))
    assert deleted not in {row for row, _ in reader.nearest(vectors[deleted], PAPERS + 10, None)}
    assert len(reader.nearest(vectors[1], PAPERS + 10, None)) == PAPERS  # one added, one deleted
    assert np.allclose(reader.vectors_of([updated, deleted, added], DIMENSION),
                       [updated_vector, np.zeros(DIMENSION), added_vector], atol=1e-3)

    after = reader._matrix
    assert after.rows_read == 2, "only the added and the updated rows were read (the deleted one has none)"
    touched = {(updated - 1) // BLOCK, (deleted - 1) // BLOCK, len(before.blocks) - 1}  # rows 1-64 in the first...
    assert all(after.blocks[number] is before.blocks[number] for number in range(len(before.blocks)) if number not in touched)
    assert all(after.blocks[number] is not before.blocks[number] for number in touched)


def test_a_background_refresh_answers_from_the_matrix_before_until_it_publishes(indexes):
    writer, reader, _ = indexes
    jobs: list = []
    reader.reload_vectors_with = jobs.append
    writer.add_references(papers(PAPERS, 3))
    new_vectors = embed(writer, seed=4)
    query = next(iter(new_vectors.values()))
    assert query is not None and len(reader.nearest(query, PAPERS + 10, None)) == PAPERS and len(jobs) == 1
    assert len(reader.nearest(query, PAPERS + 10, None)) == PAPERS and len(jobs) == 1  # one refresh at a time
    jobs[0]()
    assert reader._matrix.rows_read == 3
    assert reader.nearest(query, 1, None)[0][0] == next(iter(new_vectors))


def test_changes_forgotten_or_too_many_are_read_in_full(indexes):
    writer, reader, vectors = indexes
    writer.store_embeddings([7], vectors[8][None, :])
    writer.db.execute("DELETE FROM ann_changes")  # the change to row 7 forgotten unread (a writer of before this log was kept)
    writer.store_embeddings([5], vectors[6][None, :])
    assert {row for row, _ in reader.nearest(vectors[6], 2, None)} == {5, 6}
    assert {row for row, _ in reader.nearest(vectors[8], 2, None)} == {7, 8}
    assert reader._matrix.rows_read == PAPERS

    writer.store_embeddings(list(range(1, PAPERS + 1)), unit_vectors(PAPERS, seed=6))
    fresh = unit_vectors(PAPERS, seed=6)
    assert reader.nearest(fresh[41], 1, None)[0][0] == 42
    assert reader._matrix.rows_read == PAPERS


def test_the_log_keeps_recent_changes_below_the_threshold(indexes):
    writer, _, _ = indexes
    last = writer.db.execute("SELECT max(seq) FROM ann_changes").fetchone()[0]
    assert last is not None and writer.db.execute("SELECT count(*) FROM ann_changes").fetchone()[0] == PAPERS
    writer.sync_ann()
    assert writer.db.execute("SELECT max(seq) FROM ann_changes").fetchone()[0] == last


def test_searches_during_refreshes_see_one_whole_matrix(indexes):
    """Searches on two threads while another writer keeps changing vectors and the matrix is brought
    up to date: each search sees every row exactly once and the papers that never change as they are."""
    writer, reader, vectors = indexes
    reader.reload_vectors_with = lambda job: None  # the main thread below brings the matrix up to date
    stable = 200
    problems: list[str] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            found = reader.nearest(vectors[stable], PAPERS + 10, None)
            rows = [row for row, _ in found]
            if len(rows) != PAPERS or len(set(rows)) != PAPERS:
                problems.append(f"{len(rows)} results, {len(set(rows))} rows")
            if rows[0] != stable:
                problems.append(f"top {rows[0]}")

    searchers = [threading.Thread(target=search) for _ in range(2)]
    for thread in searchers:
        thread.start()
    try:
        for round_number in range(30):
            changed = [row for row in range(1 + round_number, PAPERS + 1, 37) if row != stable]
            writer.store_embeddings(changed, unit_vectors(len(changed), seed=100 + round_number))
            reader.load_vectors(DIMENSION)
            assert reader._matrix.rows_read == len(changed)
    finally:
        done.set()
        for thread in searchers:
            thread.join()
    assert not problems, problems[:5]


def test_papers_added_past_a_full_last_block_go_in_a_new_block_copying_none(tmp_path):
    location = tmp_path / "index.sqlite"
    with Index.open(location) as writer, Index.open(location) as reader:
        writer.set_model("test-model", DIMENSION)
        writer.add_references(papers(0, 2 * BLOCK))
        embed(writer, seed=7)
        reader.vectors_of([1], DIMENSION)
        before = reader._matrix
        writer.add_references(papers(2 * BLOCK, 2))
        added = embed(writer, seed=8)
        assert np.allclose(reader.vectors_of(sorted(added), DIMENSION), [added[row] for row in sorted(added)], atol=1e-3)
        after = reader._matrix
        assert [len(block.ids) for block in after.blocks] == [BLOCK, BLOCK, 2]
        assert after.blocks[0] is before.blocks[0] and after.blocks[1] is before.blocks[1]


def test_nearest_ranks_every_block_by_the_float16_vectors_exact_products():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((5 * BLOCK + 7, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    half = vectors.astype(np.float16)
    ids = np.arange(10, 10 + len(half), dtype=np.int64)
    blocks = tuple(vector_matrix.Block(ids[start:start + BLOCK], half[start:start + BLOCK])
                   for start in range(0, len(half), BLOCK))
    matrix = vector_matrix.VectorMatrix(DIMENSION, 0, 0, blocks, rows_read=len(half))
    query = vectors[100] + 0.3 * rng.standard_normal(DIMENSION).astype(np.float32)
    exact = half.astype(np.float64) @ query.astype(np.float16).astype(np.float64)
    found = matrix.nearest(query, 25, None)
    assert [row for row, _ in found] == (ids[np.argsort(-exact, kind="stable")[:25]]).tolist()
    assert [score for _, score in found] == pytest.approx(np.sort(exact)[::-1][:25].tolist(), abs=1e-6)
    allowed = set(ids[::3].tolist())
    kept = np.isin(ids, list(allowed))
    assert [row for row, _ in matrix.nearest(query, 5, allowed)] == \
        ids[kept][np.argsort(-exact[kept], kind="stable")[:5]].tolist()
    assert matrix.nearest(query, 0, None) == [] and len(matrix.nearest(query, 10_000, None)) == len(half)
