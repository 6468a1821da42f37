"""Fixtures shared by every test module: the shared corpus, the bundled examples, the real model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / "build" / "tree"
if not (TREE / "citewise" / "server").exists():
    pytest.exit("build/tree is missing: run `make install` (it maps citewise.* onto this tree)", returncode=2)
# This tree's code comes first, for the tests and every process they start.
sys.path.insert(0, str(TREE))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TREE), os.environ.get("PYTHONPATH")]))

from lsp_support import CLIENTS, copy_workspace  # noqa: E402  (imports citewise: after the tree is on the path)

EXAMPLES = REPO / "examples"
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory):
    """Keep the parsed-.bib cache of every test (and every server it starts) out of ~/.cache."""
    os.environ["CITEWISE_CACHE_DIR"] = str(tmp_path_factory.mktemp("citewise-cache"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """`../shared` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent: this material may not be copied into the repository")
    return SHARED


@pytest.fixture(scope="session")
def embedder():
    """The real embedding model, loaded once per test session."""
    from citewise.bib.index.embed import Embedder

    return Embedder.load()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (see pg_support.py)."""
    from pg_support import PostgresForTests

    server = PostgresForTests()
    yield server
    server.stop()


INDEX_BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """`chattr +i` on `paths` for the duration: even root cannot write there (file permissions
    would not stop root), so a reading command may not bring an older index up to date."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    try:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        pytest.skip("this file system or container does not allow chattr +i")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True, capture_output=True)


def index_set_back(path: Path, refs: list, version: int, *undo: str) -> None:
    """A SQLite index at `path` holding `refs` as schema `version` left it: `undo` are the
    statements that take back the later migrations, which the next writable opening runs again."""
    from citewise.bib.index.store import Index

    with Index.open(path) as index:
        index.add_references(refs)
        for statement in undo:
            index.db.execute(statement)
        index.db.execute(f"PRAGMA user_version = {version}")


@pytest.fixture(params=INDEX_BACKENDS)
def index_location(request, tmp_path) -> str:
    """A new, empty index location: a SQLite file, then a PostgreSQL database; tests using it run on both."""
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture(params=CLIENTS)
def client_name(request) -> str:
    """The language-server tests run once with each client's capabilities."""
    return request.param


@pytest.fixture
def latex_workspace(tmp_path) -> Path:
    """A copy of the LaTeX workspace the language-server tests edit."""
    return copy_workspace(FIXTURES / "lsp" / "latex", tmp_path / "latex")
