"""The editor setups agree with the server: every setting VS Code contributes is one the server
knows, with the server's default, and the Helix configuration is valid TOML the server accepts."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import fields
from pathlib import Path

from citewise.server.features.settings import Settings, parse_settings

EDITORS = Path(__file__).resolve().parents[1] / "editors"
CLIENT_ONLY = {"python", "trace.server"}


def contributed() -> dict[str, dict]:
    package = json.loads((EDITORS / "vscode" / "package.json").read_text())
    properties = package["contributes"]["configuration"]["properties"]
    return {name.removeprefix("citewise."): schema for name, schema in properties.items()}


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda match: match.group(1).upper(), name)


def test_vscode_contributes_every_server_setting_and_no_other():
    server = {camel(field.name) for field in fields(Settings)}
    assert set(contributed()) - CLIENT_ONLY == server


def test_vscode_defaults_are_the_servers_defaults():
    defaults = {name: schema["default"] for name, schema in contributed().items() if name not in CLIENT_ONLY}
    settings, warnings = parse_settings(defaults)
    assert warnings == []
    assert settings == Settings()


def test_vscode_settings_are_documented():
    for name, schema in contributed().items():
        assert schema.get("description") or schema.get("markdownDescription"), name


def test_helix_starts_the_server_with_settings_it_accepts():
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = config["language-server"]["citewise"]
    assert server["args"] == ["-m", "citewise", "serve"]
    settings, warnings = parse_settings(server["config"])
    assert warnings == []
    assert settings.cite_command["latex"] == "\\cite"
    languages = {language["name"] for language in config["language"] if "citewise" in language["language-servers"]}
    assert languages == {"latex", "bibtex", "markdown"}
