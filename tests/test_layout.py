"""The docs that describe the code's layout match it: README.md's Layout section names every module
of bib/ and server/, each in its folder's row, and nothing else; server/features/background.py, the
one statement of the concurrency model, names every module that starts a thread."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bib", "server")
ROW = re.compile(r"^\| `((?:bib|server)(?:/[a-z_]+)*)/`[^|]* \| (.*) \|$", re.MULTILINE)
MODULE_NAME = re.compile(r"`([a-z][a-z0-9_]*)`")
DUNDER = {"__init__", "__main__"}


def layout_rows(readme: str) -> dict[str, str]:
    """Folder -> the text of its row in the Layout table."""
    section = readme[readme.index("\n## Layout\n"):]
    section = section[:section.index("\n## ", 1)]
    return {folder: text for folder, text in ROW.findall(section)}


def modules_by_folder() -> dict[str, set[str]]:
    """Every package folder under bib/ and server/ -> the names of its modules (no dunders)."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for init in sorted((ROOT / package).rglob("__init__.py")):
            folder = init.parent
            found[str(folder.relative_to(ROOT))] = {file.stem for file in folder.glob("*.py")} - DUNDER
    return found


def test_every_package_has_a_row_and_every_row_a_package():
    rows = layout_rows((ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(rows) == set(modules_by_folder()), "add a row to README.md's Layout table for each package"


def layout_problems(readme: str) -> list[str]:
    """Each module missing from its folder's row, and each name in a row that is no module there."""
    rows = layout_rows(readme)
    problems = []
    for folder, modules in modules_by_folder().items():
        named = set(MODULE_NAME.findall(rows.get(folder, "")))
        for module in sorted(modules - named):
            problems.append(f"{folder}/{module}.py is not named in README.md's Layout row for {folder}/")
        for name in sorted(named - modules):
            problems.append(f"README.md's Layout row for {folder}/ names `{name}`, which is not a module there")
    return problems


def test_each_row_names_exactly_the_modules_of_its_folder():
    problems = layout_problems((ROOT / "README.md").read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_check_fails_for_a_module_left_out_and_for_one_that_is_gone():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    changed = readme.replace("and `convert`, the one place", "and `converter`, the one place", 1)
    assert changed != readme
    assert layout_problems(changed) == [
        "server/lsp/convert.py is not named in README.md's Layout row for server/lsp/",
        "README.md's Layout row for server/lsp/ names `converter`, which is not a module there",
    ]


def test_the_check_reads_the_table_it_means():
    rows = layout_rows((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "convert" in MODULE_NAME.findall(rows["server/lsp"])
    assert "bert" in MODULE_NAME.findall(rows["bib/index"])
    assert len(modules_by_folder()) >= 11


# A thread or a pool started, or work handed to asyncio's default pool (which starts threads).
THREAD_START = re.compile(r"\bThread\(|\bTimer\(|ThreadPoolExecutor\(|ProcessPoolExecutor\(|_thread\.start_new"
                          r"|\bto_thread\(|run_in_executor\(\s*None\b")


def modules_starting_threads() -> set[str]:
    """Modules of bib/ and server/ that start a thread or a pool, as paths below their package root."""
    return {str(file.relative_to(ROOT / package)) for package in PACKAGES for file in (ROOT / package).rglob("*.py")
            if THREAD_START.search(file.read_text(encoding="utf-8"))}


def test_every_module_that_starts_a_thread_is_named_in_the_concurrency_model():
    statement = (ROOT / "server/features/background.py").read_text(encoding="utf-8").split('"""')[1]
    statement = " ".join(statement.split())
    unnamed = sorted(module for module in modules_starting_threads() - {"features/background.py"}
                     if module not in statement)
    assert not unnamed, f"threads started in modules server/features/background.py does not name: {unnamed}"


def test_the_thread_check_sees_the_threads_there_are():
    assert {"lsp/transport.py", "mcp/server.py", "bibtex/reader.py", "index/search.py"} <= modules_starting_threads()
    for start in ("threading.Timer(1, f)", "await asyncio.to_thread(f)", "loop.run_in_executor(None, f)"):
        assert THREAD_START.search(start), start
    assert not THREAD_START.search("loop.run_in_executor(self.lanes[lane], f)"), "a lane is the model's own thread"


def test_the_index_api_is_type_checked_module_by_module():
    """`mypy --strict` covers every module of bib/index (pyproject.toml lists them), as [tool.mypy] says."""
    import tomllib

    listed = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["modules"]
    checked = {name.removeprefix("citewise.bib.index.") for name in listed if name.startswith("citewise.bib.index.")}
    assert checked == modules_by_folder()["bib/index"]
