"""Where the index file lives: `--index`, then `$CITEWISE_INDEX`, then the user data directory."""

from __future__ import annotations

import os
from pathlib import Path

INDEX_FILE_NAME = "index.sqlite"


def resolve_index_path(explicit: str | None) -> Path:
    """The index path to use; the default lives in the platform's user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get("CITEWISE_INDEX")
    if from_env:
        return Path(from_env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("citewise", appauthor=False)) / INDEX_FILE_NAME
