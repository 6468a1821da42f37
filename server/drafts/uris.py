"""file:// URIs and paths: the one conversion between them, for the draft parser, the
features and the protocol layer alike (standard library only, so no layer needs pygls)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname


def uri_to_path(uri_or_path: str) -> str:
    """An absolute file path for a file:// URI or a path; other schemes (untitled:, https://)
    come back unchanged."""
    if uri_or_path.startswith("file:"):
        return os.path.normpath(url2pathname(urlparse(uri_or_path).path))
    if "://" in uri_or_path or uri_or_path.startswith("untitled:"):
        return uri_or_path
    return os.path.abspath(uri_or_path)


def path_to_uri(path: str) -> str:
    """The file:// URI of a path (made absolute), percent-encoded as editors send it."""
    return Path(os.path.abspath(path)).as_uri()
