"""Packaging: every third-party module the code imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_top_level_modules() -> dict[str, str]:
    """Third-party top-level module -> one file importing it, over server/ and bib/."""
    found: dict[str, str] = {}
    for folder in ("server", "bib"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top != "citewise":
                        found.setdefault(top, str(file.relative_to(ROOT)))
    return found


def _requirement_name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def _declared() -> tuple[set[str], list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_requirement_name(r) for r in requirements}, list(project["dependencies"])


# Optional modules that are not installed here, by the distribution that provides them.
NOT_INSTALLED = {"keyring": "keyring"}


def test_every_third_party_import_is_declared():
    declared, _ = _declared()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, file in _imported_top_level_modules().items():
        names = distributions.get(module) or [NOT_INSTALLED.get(module, module)]
        if not any(_requirement_name(name) in declared for name in names):
            missing.append(f"{module} (imported in {file})")
    assert not missing, "not declared in pyproject.toml: " + ", ".join(missing)


def test_the_scan_sees_the_imports_that_were_missing_once():
    modules = _imported_top_level_modules()
    assert {"torch", "numpy", "httpx2", "yaml"} <= set(modules)


def test_torch_is_pinned_as_the_makefile_installs_it_first():
    _, main = _declared()
    pins = [r for r in main if _requirement_name(r) == "torch"]
    assert pins and "==" in pins[0]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"TORCH := {pins[0]}" in makefile
    assert makefile.index("$(PIP) install $(TORCH)") < makefile.index('$(PIP) install ".[test]"')


def test_tests_and_the_processes_they_start_run_this_tree():
    """No reinstall before a run: build/tree maps citewise.server/citewise.bib onto server/ and bib/."""
    import subprocess

    import citewise.bib.model
    import citewise.server.lsp.convert

    assert Path(citewise.server.lsp.convert.__file__).resolve() == ROOT / "server" / "lsp" / "convert.py"
    assert Path(citewise.bib.model.__file__).resolve() == ROOT / "bib" / "model.py"
    printed = subprocess.run([sys.executable, "-c", "import citewise.bib.model as m; print(m.__file__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert Path(printed).resolve() == ROOT / "bib" / "model.py"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--force-reinstall" not in makefile and "\n$(VENV)/.deps: pyproject.toml\n" in makefile
