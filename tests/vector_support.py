"""Numbered papers and random unit vectors for the tests of the index's dense side (test_ann.py,
test_vector_matrix.py): small vectors, so that a few hundred papers build and search in moments."""

from __future__ import annotations

import numpy as np

from citewise.bib.model import Author, Reference

DIMENSION = 32


def papers(start: int, count: int, topic: str, year: str) -> list[Reference]:
    """Papers `start` .. `start + count - 1`, keyed `p<number>`, each by its own author."""
    return [Reference(key=f"p{number}", title=f"Paper number {number} about {topic}",
                      authors=[Author(f"Author{number}", "A.")], year=year) for number in range(start, start + count)]


def unit_vectors(count: int, seed: int) -> np.ndarray:
    """`count` random vectors of length one (float32), the same for the same seed."""
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
