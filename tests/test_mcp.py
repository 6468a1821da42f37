"""`citewise mcp` end to end: the real server over stdio, driven by the MCP SDK's own client.

The index holds the seed digest and the example library, embedded with the real model.
Each test starts the server on a temporary workspace copied from tests/fixtures/lsp/latex.
Token counts are estimated as characters / 4 (the usual rule of thumb for English and JSON
with GPT/Claude-style tokenizers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from registry_support import registry_server  # noqa: F401 (fixture)

from citewise.bib.index.embed import embed_pending
from citewise.bib.index.store import Index
from citewise.bib.readers import read_path

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "tests" / "fixtures" / "lsp" / "latex"
TOOLS = {"search_papers", "suggest_citations", "get_reference", "cite", "verify_references", "library_status"}
TOKEN_BUDGET = 2_000
SECRET = "zotero-secret-key-4f1c9a"
FAST_SOLVERS = "Fast ODE solvers make sampling from diffusion models cheap: a few steps are enough."


@pytest.fixture(scope="module")
def index_path(tmp_path_factory, embedder) -> Path:
    path = tmp_path_factory.mktemp("mcp-index") / "index.sqlite"
    with Index.open(path) as index:
        for source in ("daily-papers-digest.txt", "library.bib"):
            index.add_references(read_path(REPO / "examples" / source).references)
        embed_pending(index, embedder)
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    """A workspace (paper.tex citing refs.bib, notes.md declaring no .bib) and a folder outside it."""
    root = shutil.copytree(WORKSPACE, tmp_path / "root")
    (root / "notes.md").write_text("# Notes\n\nDiffusion sampling got much faster.\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tex").write_text("\\begin{document}\nSecret \\cite{x}.\n\\end{document}\n", encoding="utf-8")
    (outside / "other.bib").write_text("@misc{other, title = {Other}}\n", encoding="utf-8")
    return root


@contextlib.asynccontextmanager
async def mcp_server(root: Path, index_path: Path, *options: str, errlog=None, env: dict | None = None):
    env = {**(env or {}), "PYTHONPATH": os.environ["PYTHONPATH"], "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "CITEWISE_INDEX": str(index_path), "CITEWISE_CACHE_DIR": os.environ["CITEWISE_CACHE_DIR"],
           "ZOTERO_API_KEY": SECRET}
    params = StdioServerParameters(command=sys.executable, args=["-m", "citewise", "mcp", "--root", str(root), *options],
                                   env=env, cwd=str(root))
    with open(os.devnull, "w") if errlog is None else contextlib.nullcontext(errlog) as stderr:
        async with Client(stdio_client(params, errlog=stderr), mode="legacy") as client:
            yield client


async def call(client: Client, tool: str, **arguments) -> dict:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


async def error_of(client: Client, tool: str, **arguments) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content[0].text
    return result.content[0].text


def snapshot(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()}


def bib_keys(path: Path) -> list[str]:
    from citewise.bib.bibtex.reader import scan_entries

    return [entry.key for entry in scan_entries(path.read_text(encoding="utf-8"))]


async def test_tools_schemas_and_resources(root, index_path):
    async with mcp_server(root, index_path) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        resources = [str(resource.uri) for resource in (await client.list_resources()).resources]
        templates = [template.uri_template for template in (await client.list_resource_templates()).resource_templates]
    assert set(tools) == TOOLS
    search = tools["search_papers"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["k"]["maximum"] == 50 and search["properties"]["k"]["default"] == 10
    assert set(search["properties"]) == {"query", "k", "offset", "year_from", "year_to"}
    cite = tools["cite"].input_schema
    assert set(cite["required"]) == {"draft_path", "keys"}
    assert cite["properties"]["keys"]["type"] == "array" and cite["properties"]["keys"]["maxItems"] == 20
    assert set(tools["suggest_citations"].input_schema["properties"]) == {"draft_path", "text", "line", "k"}
    assert set(tools["get_reference"].input_schema["properties"]) == {"key", "doi", "arxiv", "draft_path"}
    assert all(len(tool.description) <= 120 for tool in tools.values()), {n: t.description for n, t in tools.items()}
    assert tools["search_papers"].annotations.read_only_hint is True
    assert tools["cite"].annotations.read_only_hint is False and tools["cite"].annotations.destructive_hint is False
    assert resources == ["citewise://index/stats"]
    assert templates == ["citewise://bibliography/{+draft_path}"]


async def test_search_finds_dpm_solver_v3_and_pages(root, index_path):
    async with mcp_server(root, index_path) as client:
        found = await call(client, "search_papers", query="fast ODE solvers for sampling diffusion models", k=5)
        second_page = await call(client, "search_papers", query="fast ODE solvers for sampling diffusion models",
                                 k=2, offset=2)
        recent = await call(client, "search_papers", query="diffusion models", k=10, year_from=2022)
    first = found["results"][0]
    assert first["key"] == "DPMSolverV3"
    assert first["title"].startswith("DPM-Solver-v3") and first["year"] == "2023" and first["arxiv"] == "2310.13268"
    assert first["first_author"] == "Zheng et al." and first["in_library"] is True  # from library.bib
    assert any(not hit["in_library"] for hit in found["results"])  # digest-only papers
    assert found["next_offset"] == 5
    assert [hit["key"] for hit in second_page["results"]] == [hit["key"] for hit in found["results"][2:4]]
    assert recent["results"] and all(int(hit["year"]) >= 2022 for hit in recent["results"])


async def test_cite_adds_exactly_the_missing_entries(root, index_path):
    draft_before = (root / "paper.tex").read_bytes()
    bib_before = (root / "refs.bib").read_text(encoding="utf-8")
    async with mcp_server(root, index_path) as client:
        cited = await call(client, "cite", draft_path="paper.tex", keys=["DCSolverImproving", "DPMSolverV3"])
        again = await call(client, "cite", draft_path="paper.tex", keys=["DCSolverImproving"], line=7, column=40)
        markdown = await call(client, "cite", draft_path="notes.md", keys=["ScoreBasedGenerative", "DPMSolverV3"])
    # DPMSolverV3 is in refs.bib under its own key already: cited as that, nothing added for it.
    assert cited["citation"] == r"\cite{DCSolverImproving,zhengDPMSolverv3ImprovedDiffusion2023}"
    assert cited["added"] == ["DCSolverImproving"]
    assert cited["already_in_bib"] == ["zhengDPMSolverv3ImprovedDiffusion2023"] and cited["bib"] == "refs.bib"
    bib_after = (root / "refs.bib").read_text(encoding="utf-8")
    assert bib_keys(root / "refs.bib") == [*bib_keys_of(bib_before), "DCSolverImproving"]
    added = bib_after[len(bib_before.rstrip()):].strip()
    assert bib_after == bib_before.rstrip() + "\n\n" + added + "\n"  # one insertion, nothing else touched
    assert added.startswith("@misc{DCSolverImproving,\n  title = {{DC-Solver}: Improving") and added.endswith("}")
    assert again == {"citation": r"~\cite{DCSolverImproving}", "bib": "refs.bib", "added": [],
                     "already_in_bib": ["DCSolverImproving"], "insert_at": {"line": 7, "column": 40}}
    assert (root / "refs.bib").read_text(encoding="utf-8") == bib_after
    assert (root / "paper.tex").read_bytes() == draft_before  # the prose is never edited
    # A Markdown draft without a bibliography: Pandoc syntax, a new references.bib, the declaration as text.
    assert markdown["citation"] == "[@ScoreBasedGenerative; @DPMSolverV3]"
    assert markdown["bib"] == "references.bib" and markdown["added"] == ["ScoreBasedGenerative", "DPMSolverV3"]
    assert markdown["declare_bibliography"] == {"line": 1, "text": "---\nbibliography: references.bib\n---"}
    assert bib_keys(root / "references.bib") == ["DPMSolverV3", "ScoreBasedGenerative"]
    assert "bibliography" not in (root / "notes.md").read_text(encoding="utf-8")


def bib_keys_of(text: str) -> list[str]:
    from citewise.bib.bibtex.reader import scan_entries

    return [entry.key for entry in scan_entries(text)]


async def test_bad_arguments_are_clear_errors_and_write_nothing(root, index_path):
    outside = root.parent / "outside"
    (root / "escape.tex").symlink_to(outside / "secret.tex")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "declares-outside.tex").write_text(
        "\\begin{document}\nText \\cite{a}.\n\\bibliography{../outside/other}\n\\end{document}\n", encoding="utf-8")
    before = {"root": snapshot(root), "outside": snapshot(outside)}
    async with mcp_server(root, index_path) as client:
        unknown = await error_of(client, "cite", draft_path="paper.tex", keys=["DCSolverImproving", "DPMSolverV4"])
        assert "'DPMSolverV4'" in unknown and "did you mean DPMSolverV3" in unknown
        assert "outside the workspace roots" in await error_of(client, "cite", draft_path="../outside/secret.tex",
                                                               keys=["DPMSolverV3"])
        assert "outside the workspace roots" in await error_of(client, "cite", draft_path=str(outside / "secret.tex"),
                                                               keys=["DPMSolverV3"])
        assert "escape.tex: outside the workspace roots" in await error_of(
            client, "suggest_citations", draft_path="escape.tex", line=2)
        assert "outside the workspace roots" in await error_of(client, "cite", draft_path="linked/secret.tex",
                                                               keys=["DPMSolverV3"])
        declared = await error_of(client, "cite", draft_path="declares-outside.tex", keys=["DPMSolverV3"])
        assert "bibliographies are outside the workspace roots" in declared and "other.bib" in declared
        huge = await error_of(client, "search_papers", query="diffusion", k=10**9)
        assert "k" in huge and "less than or equal to 50" in huge
        assert "line 99 is outside the draft" in await error_of(client, "suggest_citations", draft_path="paper.tex",
                                                                line=99)
        assert "no such file" in await error_of(client, "cite", draft_path="missing.tex", keys=["DPMSolverV3"])
        assert "exactly one of text" in await error_of(client, "suggest_citations", draft_path="paper.tex")
        assert "exactly one of key, doi or arxiv" in await error_of(client, "get_reference", key="DPMSolverV3",
                                                                    doi="10.1/x")
        assert "no paper with DOI" in await error_of(client, "get_reference", doi="10.9999/not-there")
        assert ".: not a regular file" in await error_of(client, "suggest_citations", draft_path=".", line=1)
    assert {"root": snapshot(root), "outside": snapshot(outside)} == before


async def test_suggestions_are_the_editors(root, index_path, embedder):
    from citewise.server.features.settings import Settings
    from citewise.server.features.suggestions import suggestions_at
    from citewise.server.features.workspace import Workspace

    async with mcp_server(root, index_path) as client:
        for_text = await call(client, "suggest_citations", draft_path="paper.tex", text=FAST_SOLVERS, k=5)
        for_line = await call(client, "suggest_citations", draft_path="paper.tex", line=5, k=5)
    # The passage is not in the draft: suggested as a new paragraph at the end of its body; the paper
    # refs.bib holds comes under its .bib key.
    assert for_text["sentence"] == FAST_SOLVERS
    keys = [item["key"] for item in for_text["suggestions"]]
    assert "zhengDPMSolverv3ImprovedDiffusion2023" in keys[:2]
    assert next(item for item in for_text["suggestions"] if item["key"].startswith("zheng"))["in_bib"] is True
    # Line 5 cites songScoreBasedGenerativeModeling2021: it is not suggested again.
    assert "Score-based models generate images" in for_line["sentence"]
    assert for_line["suggestions"] and all("songScoreBased" not in item["key"] for item in for_line["suggestions"])
    # The same function the language server calls gives the same papers in the same order.
    ws = Workspace([str(root)], Settings(index_path=str(index_path)))
    ws.load_model(embedder)
    document = ws.document(str(root / "paper.tex"))
    for state in ws.bib_states_for(document.uri):
        state.file.wait_for_fields(30)
    _, expected = suggestions_at(ws, document, document.lines.lsp_pos(4, len(document.lines.line_text(4))), count=5)
    assert [item["key"] for item in for_line["suggestions"]] == [s.item.key for s in expected]


async def test_get_reference_and_resources(root, index_path):
    async with mcp_server(root, index_path) as client:
        by_key = await call(client, "get_reference", key="DPMSolverV3")
        by_arxiv = await call(client, "get_reference", arxiv="arXiv:2310.13268v2")
        by_doi = await call(client, "get_reference", doi="https://doi.org/10.1145/3560815")
        from_bib = await call(client, "get_reference", key="unusedEntry2020", draft_path="paper.tex")
        stats = json.loads((await client.read_resource("citewise://index/stats")).contents[0].text)
        bibliography = (await client.read_resource("citewise://bibliography/paper.tex")).contents[0].text
    assert by_key["bibtex"].startswith("@inproceedings{DPMSolverV3,") and "abstract" not in by_key["bibtex"]
    assert by_key["abstract"].startswith("Diffusion probabilistic models") and len(by_key["abstract"]) <= 400
    assert by_arxiv["key"] == "DPMSolverV3"
    assert by_doi["key"] == "PreTrainPrompt" and "10.1145/3560815" in by_doi["bibtex"]  # digest paper, DOI from library.bib
    assert from_bib["bib"] == "refs.bib" and from_bib["bibtex"].startswith("@article{unusedEntry2020,")
    assert stats["references"] == 76 and stats["model"].endswith("all-MiniLM-L6-v2")
    assert "@inproceedings{songScoreBasedGenerativeModeling2021," in bibliography
    assert "unusedEntry2020" not in bibliography  # only what the draft cites


async def test_every_output_within_the_token_budget(root, index_path):
    async with mcp_server(root, index_path) as client:
        outputs = {
            "search_papers": await client.call_tool("search_papers", {"query": "diffusion models", "k": 10}),
            "suggest_citations": await client.call_tool("suggest_citations", {"draft_path": "paper.tex",
                                                                              "text": FAST_SOLVERS, "k": 10}),
            "get_reference": await client.call_tool("get_reference", {"key": "ScoreBasedGenerative"}),
            "cite": await client.call_tool("cite", {"draft_path": "paper.tex", "keys": ["DPMSolverV3", "SaRAHighEfficient"]}),
            "library_status": await client.call_tool("library_status", {}),
        }
    for name, result in outputs.items():
        assert not result.is_error, (name, result.content[0].text)
        text = "".join(block.text for block in result.content)
        assert len(text) / 4 <= TOKEN_BUDGET, (name, len(text))
    assert len(json.loads(outputs["search_papers"].content[0].text)["results"]) == 10


async def test_read_only_offers_no_write_tool(root, index_path):
    before = snapshot(root)
    async with mcp_server(root, index_path, "--read-only") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("cite", {"draft_path": "paper.tex", "keys": ["DCSolverImproving"]})
        status = await call(client, "library_status")
    assert names == TOOLS - {"cite"}
    assert refused.is_error and "cite" in refused.content[0].text
    assert status["read_only"] is True
    assert snapshot(root) == before


async def test_zotero_key_never_returned_or_logged(root, index_path, tmp_path):
    log = tmp_path / "server-stderr.log"
    with open(log, "w") as errlog:
        async with mcp_server(root, index_path, errlog=errlog) as client:
            outputs = [(await client.call_tool("library_status", {})).content[0].text,
                       (await client.call_tool("get_reference", {"key": "nothing"})).content[0].text,
                       (await client.call_tool("search_papers", {"query": SECRET})).content[0].text]
    assert "zotero" in outputs[0]
    assert all(SECRET not in text for text in outputs)
    assert SECRET not in log.read_text()


async def test_verify_references_reports_problems_first(root, index_path, registry_server, tmp_path):  # noqa: F811
    shutil.copy(REPO / "tests" / "fixtures" / "verify" / "references.bib", root / "checked.bib")
    env = {**registry_server.environment(), "CITEWISE_CACHE_DIR": str(tmp_path / "cache")}
    async with mcp_server(root, index_path, env=env) as client:
        offline = await call(client, "verify_references", path="checked.bib", limit=50)
        draft = await call(client, "verify_references", path="paper.tex")
    async with mcp_server(root, index_path, "--online", env=env) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        first = await client.call_tool("verify_references", {"path": "checked.bib", "limit": 10})
        found = json.loads(first.content[0].text)
        rest = await call(client, "verify_references", path="checked.bib", offset=10, limit=10)
        outside = await error_of(client, "verify_references", path="../outside/other.bib")
    # Without --online nothing is sent: only duplicates are known, everything else unverifiable.
    assert offline["counts"] == {"duplicate": 1, "unverifiable": 12} and offline["note"].startswith("offline")
    # A draft: the entries it cites from refs.bib (vaswani... is cited but defined nowhere), plus cite-check.
    assert {item["key"] for item in draft["findings"]} == {"songScoreBasedGenerativeModeling2021",
                                                           "zhengDPMSolverv3ImprovedDiffusion2023"}
    assert all(item["where"].startswith("refs.bib:") for item in draft["findings"])
    assert tools["verify_references"].annotations.open_world_hint is True
    statuses = {item["key"]: item["status"] for item in found["findings"] + rest["findings"]}
    assert len(statuses) == 13 == sum(found["counts"].values())
    assert {key: statuses[key] for key in ("han2022music", "liu2021contrastive", "zhang2014scaling", "pandey2021vqf",
                                            "gould2006hotjupiters", "vqf2021again")} == {
        "han2022music": "retracted", "liu2021contrastive": "not-found", "zhang2014scaling": "mismatch",
        "pandey2021vqf": "verified", "gould2006hotjupiters": "superseded", "vqf2021again": "duplicate"}
    problems = found["counts"]["not-found"] + found["counts"]["mismatch"] + found["counts"]["retracted"]
    assert all(item["status"] in ("not-found", "mismatch", "retracted") for item in found["findings"][:problems])
    assert found["next_offset"] == 10 and rest["next_offset"] is None
    assert found["findings"][0]["where"].startswith("checked.bib:")
    assert len(first.content[0].text) / 4 <= TOKEN_BUDGET
    assert "outside the workspace roots" in outside


def test_worked_session_of_the_readme(index_path, tmp_path):
    """examples/mcp_session.py: suggest_citations then cite for two sentences; the .bib gains
    exactly the papers the agent cited, and the prose only the citations it inserted."""
    before = bib_keys(REPO / "examples" / "library.bib")
    result = subprocess.run([sys.executable, str(REPO / "examples" / "mcp_session.py"), "--index", str(index_path),
                             str(tmp_path / "session")], capture_output=True, text=True, check=True)
    draft = (tmp_path / "session" / "draft.tex").read_text(encoding="utf-8")
    inserted = re.findall(r"~\\citep\{(\w+)\}", draft)
    after = bib_keys(tmp_path / "session" / "library.bib")
    assert len(inserted) == 2 and after[:len(before)] == before
    assert set(after[len(before):]) == set(inserted) - set(before)
    original = (REPO / "examples" / "draft.tex").read_text(encoding="utf-8")
    assert re.sub(r"~\\citep\{\w+\}", "", draft) == original
    assert result.stdout.count("→ `suggest_citations`") == 2 and result.stdout.count("→ `cite`") == 2
    added = set(after[len(before):])
    assert all(re.search(rf"^\+@\w+\{{{key},$", result.stdout, re.MULTILINE) for key in added)  # the diff shown


def readme_configurations() -> dict[str, list[str]]:
    """Command and arguments of each assistant's configuration in the README's MCP section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## AI writing assistants (MCP)"):readme.index("### A worked session")]
    found = {}
    for number, block in enumerate(re.findall(r"```json\n(.*?)```", section, re.DOTALL)):
        for servers in json.loads(block).values():
            found[f"json block {number + 1}"] = [servers["citewise"]["command"], *servers["citewise"]["args"]]
    found["claude mcp add"] = re.search(r"^claude mcp add .* -- (.+)$", section, re.MULTILINE).group(1).split()
    return found


async def test_readme_configurations_start_the_server(root, index_path):
    configurations = readme_configurations()
    assert len(configurations) == 5  # VS Code, Claude Code (command and .mcp.json), Cursor, Zed
    env = {"PYTHONPATH": os.environ["PYTHONPATH"], "HF_HUB_OFFLINE": "1", "CITEWISE_INDEX": str(index_path)}
    for name, (command, *args) in configurations.items():
        assert command == "python3" and args[:3] == ["-m", "citewise", "mcp"], name
        args = [str(root) if arg in ("${workspaceFolder}", "/home/you/papers/survey") else arg for arg in args]
        params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(root))
        with open(os.devnull, "w") as stderr:
            async with Client(stdio_client(params, errlog=stderr), mode="legacy") as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                status = await call(client, "library_status")
        assert tools == TOOLS and status["roots"] == [str(root)], name


def test_building_the_server_loads_no_model(root, index_path):
    script = ("import sys\nfrom citewise.server.mcp.server import create_server\nfrom citewise.server.mcp.session import Options\n"
              f"create_server(Options(roots=[{str(root)!r}], index_path={str(index_path)!r}))\n"
              "print(sorted(name for name in ('torch', 'transformers', 'sentence_transformers') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_bad_start_options_are_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "citewise", "mcp", "--root", str(tmp_path / "nope")],
                            check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.strip() == f"citewise: {tmp_path / 'nope'}: workspace root is not a folder"
