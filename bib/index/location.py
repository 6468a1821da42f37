"""Where the index lives: `--index`, then `$CITEWISE_INDEX`, then the user data directory.

A location is a SQLite file path, or a `postgresql://` URL for a shared index. A URL may hold
a password; `display_location` is the only form of it that goes into messages, logs and status.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

INDEX_FILE_NAME = "index.sqlite"


def resolve_index_path(explicit: str | None) -> Path | str:
    """The index to use: a path, or a database URL as given; the default lives in the user data directory."""
    location = explicit or os.environ.get("CITEWISE_INDEX")
    if location:
        return location if is_database_url(location) else Path(location).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("citewise", appauthor=False)) / INDEX_FILE_NAME


def is_database_url(location: str | Path) -> bool:
    """True for a PostgreSQL location (`postgresql://…` or `postgres://…`) rather than a file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def index_exists(location: str | Path) -> bool:
    """Whether there is an index to open there (a database is asked when it is opened)."""
    return is_database_url(location) or Path(location).exists()


def display_location(location: str | Path) -> str:
    """The location with any password and query parameters left out, for messages and status."""
    if not is_database_url(location):
        return str(location)
    parts = urlsplit(str(location))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
