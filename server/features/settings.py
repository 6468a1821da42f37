"""The server's configuration and its validation.

Clients send settings as JSON (initializationOptions, workspace/configuration,
didChangeConfiguration), in camelCase or snake_case, optionally nested under a
"citewise" key. A bad value produces one warning and the default (or previous) value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace


def _default_cite_commands() -> dict[str, str]:
    return {"latex": "\\cite", "markdown": "[@]"}


@dataclass(frozen=True)
class Settings:
    index_path: str | None = None
    model: str | None = None
    cite_command: dict[str, str] = field(default_factory=_default_cite_commands)
    target_bib: str | None = None
    suggestion_count: int = 5
    suggest_code_actions: bool = True
    suggest_notifications: bool = True
    suggestion_feedback: bool = True
    claim_hints: bool = False
    debounce_ms: int = 300
    zotero_push: bool = False
    zotero_sync_on_start: bool = False
    zotero_library: str | None = None
    zotero_collection: str | None = None
    verify: bool = False


_LANGUAGES = ("latex", "markdown")
_MARKDOWN_COMMANDS = ("[@]", "@", "{cite}", "{cite:p}", "{cite:t}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]*cite[A-Za-z]*\*?")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def parse_settings(raw: object, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from a client's JSON, on top of `base`; plus one warning per rejected value."""
    base = base or Settings()
    if not isinstance(raw, dict):
        return base, ([] if raw is None else [f"citewise settings must be an object, got {type(raw).__name__}"])
    if isinstance(raw.get("citewise"), dict):
        raw = raw["citewise"]
    known = {f.name for f in fields(Settings)}
    updates: dict = {}
    warnings: list[str] = []
    for name, value in raw.items():
        attribute = _snake(name)
        if attribute not in known:
            warnings.append(f"citewise: unknown setting {name!r} ignored")
            continue
        try:
            updates[attribute] = _validate(attribute, value, getattr(base, attribute))
        except ValueError as error:
            warnings.append(f"citewise: setting {name!r}: {error}; keeping {getattr(base, attribute)!r}")
    return replace(base, **updates), warnings


def _validate(name: str, value, current):
    if name in ("index_path", "model", "target_bib", "zotero_library", "zotero_collection"):
        return _optional_text(value)
    if name == "cite_command":
        return _cite_commands(value, current)
    if name == "suggestion_count":
        return _int_between(value, 0, 50)
    if name == "debounce_ms":
        return _int_between(value, 0, 10_000)
    return _bool(value)


def _optional_text(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _int_between(value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _cite_commands(value, current: dict[str, str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object like {{\"latex\": \"\\\\citep\"}}, got {value!r}")
    commands = dict(current)
    for language, command in value.items():
        if language not in _LANGUAGES:
            raise ValueError(f"unknown language {language!r} (known: {', '.join(_LANGUAGES)})")
        if language == "latex" and not (isinstance(command, str) and _LATEX_COMMAND.fullmatch(command)):
            raise ValueError(f"{command!r} is not a LaTeX cite command such as \\cite or \\citep")
        if language == "markdown" and command not in _MARKDOWN_COMMANDS:
            raise ValueError(f"{command!r} is not one of {', '.join(_MARKDOWN_COMMANDS)}")
        commands[language] = command
    return commands
