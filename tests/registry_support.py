"""Fixtures for tests that talk to the registries: the recorded-response server and clients of it."""

from __future__ import annotations

import pytest
from registry_server import REGISTRIES, RegistryServer

from citewise.bib.registries.cache import ResponseCache
from citewise.bib.registries.http import RegistryHTTP, RegistrySettings
from citewise.bib.registries.lookup import Registries


@pytest.fixture(scope="module")
def registry_server():
    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture
def registry(registry_server):
    """The server with no faults queued and an empty request log."""
    registry_server.faults.clear()
    registry_server.requests.clear()
    registry_server.peak_in_flight = 0
    return registry_server


@pytest.fixture
def registry_env(registry, monkeypatch, tmp_path):
    """The process environment pointed at the server, with a private answer cache."""
    for name, value in registry.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))
    return registry


def make_registries(server: RegistryServer, cache_path=None, offline: bool = False, **overrides) -> Registries:
    """Registries on the test server, without rate-limit pauses and with quick retries."""
    settings = RegistrySettings(
        urls={name: f"{server.url}/{name}" for name in REGISTRIES},
        offline=offline,
        timeout=overrides.pop("timeout", 2.0),
        backoff_base=overrides.pop("backoff_base", 0.01),
        min_interval={name: 0.0 for name in REGISTRIES},
        **overrides,
    )
    return Registries(RegistryHTTP(settings, ResponseCache(cache_path)))
