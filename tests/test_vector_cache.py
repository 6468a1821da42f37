"""The on-disk cache of text embeddings (bib/index/vector_cache.py) with the real model: the same
texts come back from the file, other texts or a damaged file are embedded again."""

from __future__ import annotations

import numpy as np

from citewise.bib.index.vector_cache import encode_cached

TITLES = ["Attention is all you need", "Denoising diffusion probabilistic models", "Deep residual learning"]


def test_titles_embedded_once_come_back_from_the_cache_and_new_ones_are_embedded(embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path))
    first = encode_cached(embedder, TITLES, 8)
    assert np.allclose(first, embedder.encode(TITLES)) and first.dtype == np.float32
    [kept] = (tmp_path / "vectors").glob("*.npy")
    np.save(kept, np.full_like(first, 0.5))  # a value the model never gives: the next call reads the file
    assert np.all(encode_cached(embedder, TITLES, 8) == 0.5)
    edited = encode_cached(embedder, [*TITLES[:2], "Deep residual learning for image recognition"], 8)
    assert np.allclose(edited[:2], first[:2], atol=1e-3) and not np.allclose(edited[2], first[2], atol=1e-2)
    assert len(list((tmp_path / "vectors").glob("*.npy"))) == 2


def test_a_damaged_cache_file_costs_an_embedding_not_a_wrong_vector(embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path))
    first = encode_cached(embedder, TITLES, 8)
    [kept] = (tmp_path / "vectors").glob("*.npy")
    kept.write_bytes(b"not an array")
    assert np.allclose(encode_cached(embedder, TITLES, 8), first)
    kept.write_bytes(np.lib.format.magic(1, 0))  # a header and nothing after it
    assert np.allclose(encode_cached(embedder, TITLES, 8), first)


def test_texts_are_kept_by_chunk_so_one_edited_title_costs_one_chunk(embedder, tmp_path, monkeypatch):
    from citewise.bib.index import vector_cache

    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(vector_cache, "CHUNK", 2)
    first = encode_cached(embedder, TITLES, 8)
    assert first.shape == (3, embedder.dimension) and len(list((tmp_path / "vectors").glob("*.npy"))) == 2
    edited = encode_cached(embedder, [*TITLES[:2], "Deep residual learning for image recognition"], 8)
    assert np.array_equal(edited[:2], first[:2])  # the first chunk's file, read back
    assert len(list((tmp_path / "vectors").glob("*.npy"))) == 3


def test_the_caller_may_pause_before_each_batch_and_rows_keep_the_texts_order(embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path))
    pauses: list[int] = []
    vectors = encode_cached(embedder, TITLES, 2, between_batches=lambda: pauses.append(1))
    assert len(pauses) == 2  # three titles, batches of two
    assert np.allclose(vectors, embedder.encode(TITLES), atol=1e-3)
    assert encode_cached(embedder, TITLES, 2, between_batches=lambda: pauses.append(1)).shape == (3, embedder.dimension)
    assert len(pauses) == 2  # read back from the cache: no batch computed
