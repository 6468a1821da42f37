"""The workspace roots an MCP client may reach, and the check every path goes through.

A path from a tool call is taken relative to the first root unless it is absolute,
then resolved (symlinks followed, `..` removed) and accepted only when the real path
lies under one of the roots' real paths. So neither a symlink pointing out of a root
nor `../` can reach another file. Files read must be regular files.
"""

from __future__ import annotations

import os
from pathlib import Path

from citewise.bib.errors import CitewiseError


class Roots:
    def __init__(self, roots: list[str]):
        resolved = []
        for root in roots:
            path = Path(root).expanduser().resolve()
            if not path.is_dir():
                raise CitewiseError(f"{root}: workspace root is not a folder")
            resolved.append(path)
        self.paths = list(dict.fromkeys(resolved))

    def contains(self, path: str | Path) -> bool:
        real = Path(os.path.realpath(path))
        return any(real == root or real.is_relative_to(root) for root in self.paths)

    def resolve(self, given: str) -> Path:
        """The real path of `given`; CitewiseError when it leaves every root."""
        if not given or "\0" in given:
            raise CitewiseError("empty or invalid path")
        path = Path(given).expanduser()
        if not path.is_absolute():
            path = self.paths[0] / path
        real = Path(os.path.realpath(path))
        if not self.contains(real):
            raise CitewiseError(f"{given}: outside the workspace roots ({self.shown_roots()})")
        return real

    def existing_file(self, given: str) -> Path:
        """`resolve(given)`, which must be a regular file."""
        real = self.resolve(given)
        if not real.exists():
            raise CitewiseError(f"{given}: no such file")
        if not real.is_file():
            raise CitewiseError(f"{given}: not a regular file")
        return real

    def check(self, paths: list[str], what: str) -> None:
        """Refuse when any of `paths` (files a draft names) lies outside the roots."""
        outside = [path for path in paths if not self.contains(path)]
        if outside:
            raise CitewiseError(f"{what} outside the workspace roots: {', '.join(outside)}")

    def shown(self, path: str | Path) -> str:
        """`path` relative to the first root that holds it (as tools report paths)."""
        real = Path(os.path.realpath(path))
        for root in self.paths:
            if real.is_relative_to(root):
                return str(real.relative_to(root))
        return str(path)

    def shown_roots(self) -> str:
        return ", ".join(str(root) for root in self.paths)
