"""YAML metadata of drafts and projects (front matter, `_quarto.yml`, `_bookdown.yml`,
`_config.yml`, `myst.yml`), read with PyYAML's safe loader.

A document that is not valid YAML reads as an empty mapping, as Pandoc and Quarto would
refuse it too: citation work goes on, without the bibliographies it would have named.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> dict[str, Any]:
    """The top-level mapping of a YAML document ({} when it is not a mapping or not YAML)."""
    try:
        value = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def string_list(value: Any) -> list[str]:
    """A string or a list of strings as a list; anything else as []."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []
