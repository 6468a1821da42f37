"""The `verify` setting over stdio: findings as diagnostics, fixes as quick fixes, "Add from DOI", the cache."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from lsp_support import execute, lsp_session, open_file, wait_until
from lsprotocol import types
from registry_server import Fault
from registry_support import registry, registry_server  # noqa: F401 (fixtures)

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
DRAFT = """\\documentclass{article}
\\begin{document}
Filters \\cite{pandey2021vqf} and chemistry agents \\citep{bran2024chemcrow}.
Invented work \\cite{liu2021contrastive}, retracted work \\cite{han2022music}.
A duplicate \\cite{vqf2021again} and a segmentation paper \\cite{10.1109/iccv.2007.4408927}.
Another first author \\cite{smith2006triose} and a preprint \\cite{herger2024prime}.
\\bibliography{refs}
\\end{document}
"""


@pytest.fixture
def workspace(tmp_path, registry, monkeypatch) -> Path:
    """A LaTeX project citing entries of the verify fixture, with the server's registries on 127.0.0.1."""
    root = tmp_path / "paper"
    root.mkdir()
    bib = "".join((FIXTURES / name).read_text(encoding="utf-8") for name in ("references.bib", "published.bib"))
    (root / "refs.bib").write_text(bib, encoding="utf-8")
    (root / "paper.tex").write_text(DRAFT, encoding="utf-8")
    for name, value in registry.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CITEWISE_INDEX", str(tmp_path / "no-index.sqlite"))
    return root


def _verify_codes(client, uri: str) -> dict[tuple[int, str], types.Diagnostic]:
    return {(d.range.start.line, str(d.code)): d for d in client.diagnostics.get(uri, []) if str(d.code).startswith("verify-")}


def _doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


FLAGGED = {(2, "verify-incomplete"), (3, "verify-not-found"), (3, "verify-retracted"), (4, "verify-duplicate"),
           (5, "verify-mismatch"), (5, "verify-superseded")}
"""The draft's citations with a finding (the verified entry pandey2021vqf gets no diagnostic)."""


async def _quick_fixes(client, uri: str, diagnostic: types.Diagnostic) -> dict[str, types.CodeAction]:
    """Title -> code action, of those offered for `diagnostic`."""
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=_doc(uri), range=diagnostic.range, context=types.CodeActionContext(diagnostics=[diagnostic])))
    return {action.title: action for action in actions or []}


def _edits(action: types.CodeAction) -> dict[str, list[types.TextEdit]]:
    """The action's own edit, by URI."""
    if action.edit is None:
        return {}
    changes = dict(action.edit.changes or {})
    for change in action.edit.document_changes or []:
        changes[change.text_document.uri] = list(change.edits)
    return changes


async def test_findings_become_diagnostics_with_quick_fixes(client_name, workspace, registry):
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        bib_uri = (workspace / "refs.bib").as_uri()
        found = await wait_until(lambda: len(_verify_codes(client, uri)) >= len(FLAGGED) and _verify_codes(client, uri), timeout=60)
        assert set(found) == FLAGGED
        severities = {code: d.severity for (_, code), d in found.items()}
        assert severities == {
            "verify-not-found": types.DiagnosticSeverity.Warning, "verify-mismatch": types.DiagnosticSeverity.Warning,
            "verify-retracted": types.DiagnosticSeverity.Warning, "verify-superseded": types.DiagnosticSeverity.Information,
            "verify-duplicate": types.DiagnosticSeverity.Information, "verify-incomplete": types.DiagnosticSeverity.Information}
        bib_found = await wait_until(lambda: len(codes := {str(d.code): d for d in client.diagnostics.get(bib_uri, [])
                                                            if str(d.code).startswith("verify-")}) >= len(FLAGGED) and codes)
        assert {code: d.severity for code, d in bib_found.items()} == severities

        fill = _edits((await _quick_fixes(client, uri, found[(2, "verify-incomplete")]))["Fill in from the registry (bran2024chemcrow)"])
        [(edit_uri, [text_edit])] = fill.items()
        assert edit_uri == bib_uri and "journal = {Nature Machine Intelligence}" in text_edit.new_text
        assert text_edit.new_text.startswith("@article{bran2024chemcrow,")
        # The same fix from the diagnostic on the .bib entry, once the user opens the .bib.
        open_file(client, workspace / "refs.bib")
        assert _edits((await _quick_fixes(client, bib_uri, bib_found["verify-incomplete"]))["Fill in from the registry (bran2024chemcrow)"]) == fill

        authors = _edits((await _quick_fixes(client, uri, found[(5, "verify-mismatch")]))["Use the registry's authors (smith2006triose)"])
        assert authors[bib_uri][0].new_text.startswith("@article{smith2006triose,\n  author = {Ralser, Markus")
        published = _edits((await _quick_fixes(client, uri, found[(5, "verify-superseded")]))["Cite the published version (herger2024prime)"])
        assert published[bib_uri][0].new_text.startswith("@article{herger2024prime,")
        assert "doi = {10.1016/j.xgen.2025.100814}" in published[bib_uri][0].new_text

        duplicate = found[(4, "verify-duplicate")]
        merge = (await _quick_fixes(client, uri, duplicate))["Merge into pandey2021vqf (cite pandey2021vqf instead of vqf2021again)"]
        assert [(e.range, e.new_text) for e in _edits(merge)[uri]] == [(duplicate.range, "pandey2021vqf")]
        # The .bib's part comes as a command (every .bib edit arrives in an applyEdit of its own): run it, as the editor does.
        before = (workspace / "refs.bib").read_text(encoding="utf-8")
        await execute(client, merge.command.command, *merge.command.arguments)
        after = (workspace / "refs.bib").read_text(encoding="utf-8")
        start, end = before.index("@inproceedings{vqf2021again,"), before.index("@article{bran2024chemcrow,")
        assert after == before[:start] + before[end:]


async def test_a_duplicate_cited_later_is_found_against_the_entry_checked_before(client_name, workspace, registry):
    text = "Filters \\cite{pandey2021vqf} and an invented one \\cite{liu2021contrastive}.\n\\bibliography{refs}\n"
    (workspace / "paper.tex").write_text(text, encoding="utf-8")
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        assert set(await wait_until(lambda: _verify_codes(client, uri), timeout=60)) == {(0, "verify-not-found")}
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text.replace(".\n", ", again \\cite{vqf2021again}.\n", 1))]))
        found = await wait_until(lambda: (codes := _verify_codes(client, uri)) and len(codes) > 1 and codes, timeout=60)
        assert set(found) == {(0, "verify-not-found"), (0, "verify-duplicate")}
        assert "pandey2021vqf is the same work" in found[(0, "verify-duplicate")].message


async def test_add_from_doi_writes_the_entry_and_cites_it(client_name, workspace, registry):
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        line = types.Position(line=4, character=60)
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=_doc(uri), range=types.Range(start=line, end=line), context=types.CodeActionContext(diagnostics=[])))
        add = next(a for a in actions if a.title == "Add from DOI 10.1109/iccv.2007.4408927")
        result = await execute(client, add.command.command, *add.command.arguments)
        assert result == {"applied": True}
        bib = (workspace / "refs.bib").read_text(encoding="utf-8")
        assert "@inproceedings{sinopSeededImageSegmentation2007,\n  author = {Sinop, Ali Kemal" in bib
        assert "a segmentation paper \\cite{sinopSeededImageSegmentation2007}." in (workspace / "paper.tex").read_text(encoding="utf-8")


async def test_add_from_arxiv_in_the_text_cites_it_there(client_name, workspace, registry):
    """An identifier pasted in a sentence, outside any citation, becomes a citation in its place."""
    text = DRAFT.replace("\\end{document}", "Bosonic codes (see https://arxiv.org/abs/1707.08567v1) work.\n\\end{document}")
    (workspace / "paper.tex").write_text(text, encoding="utf-8")
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        where = types.Position(line=text.splitlines().index("Bosonic codes (see https://arxiv.org/abs/1707.08567v1) work."), character=30)
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=_doc(uri), range=types.Range(start=where, end=where), context=types.CodeActionContext(diagnostics=[])))
        add = next(a for a in actions if a.title == "Add from arXiv 1707.08567")
        assert await execute(client, add.command.command, *add.command.arguments) == {"applied": True}
        key = re.search(r"@misc\{(\w+),\n  author = \{Immink", (workspace / "refs.bib").read_text(encoding="utf-8")).group(1)
        assert f"Bosonic codes (see \\cite{{{key}}}) work." in (workspace / "paper.tex").read_text(encoding="utf-8")


async def test_verify_is_off_by_default_and_sends_nothing(client_name, workspace, registry):
    async with lsp_session(client_name, workspace) as client:
        uri = open_file(client, workspace / "paper.tex")
        await wait_until(lambda: uri in client.diagnostics)
        await execute(client, "citewise.status")
        assert _verify_codes(client, uri) == {}
        result = await _complete(client, uri, DOI_END)
        assert not any("DOI " in (item.detail or "") for item in result.items)
    assert registry.count() == 0


DOI_END = types.Position(line=4, character=DRAFT.splitlines()[4].index("4408927") + len("4408927"))
DOI_KEY = "sinopSeededImageSegmentation2007"


async def _complete(client, uri: str, position: types.Position) -> types.CompletionList:
    return await client.text_document_completion_async(types.CompletionParams(text_document=_doc(uri), position=position))


async def _offered(client, uri: str, position: types.Position, label: str) -> list[types.CompletionItem]:
    """The items whose detail starts with `label`, asking again (as clients do while a list is incomplete)
    until the identifier has resolved."""
    for _ in range(200):
        found = [item for item in (await _complete(client, uri, position)).items if (item.detail or "").startswith(label)]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_completion_offers_a_typed_dois_entry_and_accepting_it_adds_the_entry(client_name, workspace, registry):
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        [item] = await _offered(client, uri, DOI_END, "DOI 10.1109/iccv.2007.4408927: ")
        assert item.sort_text == min(i.sort_text for i in (await _complete(client, uri, DOI_END)).items)
        assert item.label == DOI_KEY
        assert "Sinop" in item.detail and "2007" in item.detail
        assert item.filter_text.startswith("4408927 10.1109/iccv.2007.4408927 ")
        assert item.text_edit.new_text == DOI_KEY and item.command is None
        resolved = item if item.documentation else await client.completion_item_resolve_async(item)
        assert "Seeded Image Segmentation" in resolved.documentation.value
        assert "@inproceedings{" + DOI_KEY not in (workspace / "refs.bib").read_text(encoding="utf-8")

        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=item.text_edit.range, text=item.text_edit.new_text)]))
        bib = await wait_until(lambda: (text := (workspace / "refs.bib").read_text(encoding="utf-8")) and DOI_KEY in text and text)
        assert bib.count("@inproceedings{" + DOI_KEY + ",") == 1 and "doi = {10.1109/iccv.2007.4408927}" in bib.lower()


async def test_the_rest_of_a_doi_goes_even_when_the_user_typed_on_before_the_edit_came(workspace, registry):
    """As eglot's TAB does, only the DOI's last word becomes the key, and the server removes the rest
    in an edit labelled with the draft's version. The user typed on meanwhile: the editor refuses
    the edit, and the server computes it again on the newer text, touching nothing else."""
    async with lsp_session("visual-studio-code", workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        [item] = await _offered(client, uri, DOI_END, "DOI 10.1109/iccv.2007.4408927: ")
        last_word = types.Range(start=types.Position(line=4, character=DOI_END.character - len("4408927")), end=DOI_END)
        draft = workspace / "paper.tex"
        draft.write_text(DRAFT.replace("2007.4408927}", "2007." + DOI_KEY + "}"), encoding="utf-8")  # the editor's buffer, saved
        versions = {"draft": 2}

        def refuse(edit: types.WorkspaceEdit) -> str | None:
            [change] = edit.document_changes
            if change.text_document.uri != uri:
                return None
            if versions["draft"] == 2:  # the user types a word at the line's start, then the edit arrives
                versions["draft"] = 3
                draft.write_text(draft.read_text(encoding="utf-8").replace("A duplicate", "Also a duplicate"), encoding="utf-8")
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
                    content_changes=[types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(line=4, character=0), end=types.Position(line=4, character=1)), text="Also a")]))
                return f"version {change.text_document.version} is not the editor's 3"
            return None if change.text_document.version == versions["draft"] else "stale"

        client.editor_files.refuse = refuse
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(range=last_word, text=item.text_edit.new_text)]))
        line = await wait_until(lambda: "10.1109" not in (text := draft.read_text(encoding="utf-8")).splitlines()[4] and text.splitlines()[4], timeout=30)
        assert line == "Also a duplicate \\cite{vqf2021again} and a segmentation paper \\cite{" + DOI_KEY + "}."
        assert (workspace / "refs.bib").read_text(encoding="utf-8").count("@inproceedings{" + DOI_KEY + ",") == 1
        draft_edits = [e for e in client.editor_files.received if e.document_changes[0].text_document.uri == uri]
        assert [e.document_changes[0].text_document.version for e in draft_edits] == [2, 3]


async def test_completion_of_an_arxiv_id_and_a_registry_failure_fail_soft(client_name, workspace, registry):
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        text = DRAFT.replace("\\end{document}", "Bosonic codes \\cite{arXiv:1707.08567v1\n\\end{document}")
        uri = open_file(client, workspace / "paper.tex", text)
        end = types.Position(line=text.splitlines().index("Bosonic codes \\cite{arXiv:1707.08567v1"), character=len("Bosonic codes \\cite{arXiv:1707.08567v1"))
        [arxiv_item] = await _offered(client, uri, end, "arXiv 1707.08567: ")
        assert arxiv_item.sort_text == "!" and arxiv_item.text_edit.new_text == arxiv_item.label
        assert "Immink" in arxiv_item.detail and "2017" in arxiv_item.detail

        registry.faults.append(Fault(match="/crossref/works/10.1109", status=503, times=20))
        result = await _complete(client, uri, DOI_END)
        assert not any("DOI " in (item.detail or "") for item in result.items)
        registry.faults.clear()
        offered = await _offered(client, uri, DOI_END, "DOI 10.1109/iccv.2007.4408927: ")
        assert [item.label for item in offered] == [DOI_KEY]


async def test_reopening_a_draft_asks_the_registries_nothing(client_name, workspace, registry):
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        first = await wait_until(lambda: len(_verify_codes(client, uri)) >= len(FLAGGED) and set(_verify_codes(client, uri)), timeout=60)
    sent = registry.count()
    assert sent > 0
    async with lsp_session(client_name, workspace, options={"verify": True}) as client:
        uri = open_file(client, workspace / "paper.tex")
        again = await wait_until(lambda: len(_verify_codes(client, uri)) >= len(FLAGGED) and set(_verify_codes(client, uri)), timeout=60)
    assert again == first == FLAGGED and registry.count() == sent


async def test_weak_fit_citations_become_information_diagnostics_with_a_quick_fix(client_name, tmp_path, registry, monkeypatch):
    """Cite-check in the editor, with the real model: the two swapped citations of the fixture."""
    root = tmp_path / "fit"
    shutil.copytree(Path(__file__).parent / "fixtures" / "citecheck", root)
    for name, value in registry.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITEWISE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CITEWISE_INDEX", str(tmp_path / "no-index.sqlite"))
    async with lsp_session(client_name, root, options={"verify": True}) as client:
        uri = open_file(client, root / "paper.tex")
        weak = await wait_until(lambda: {(d.range.start.line, d.message.split(":")[0]): d for d in client.diagnostics.get(uri, [])
                                         if str(d.code) == "verify-weak-fit"} or None, timeout=180)
        assert set(weak) == {(10, "jup"), (12, "tpi")}
        jup = weak[(10, "jup")]
        assert jup.severity == types.DiagnosticSeverity.Information
        line = (root / "paper.tex").read_text(encoding="utf-8").split("\n")[10]
        assert line[jup.range.start.character:jup.range.end.character] == "jup"
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=_doc(uri), range=jup.range, context=types.CodeActionContext(diagnostics=[jup])))
        fix = next(a for a in actions if a.title == "Cite tpi instead")
        [(edit_uri, [text_edit])] = [(u, e) for u, e in (fix.edit.changes or {}).items()] or [
            (c.text_document.uri, c.edits) for c in fix.edit.document_changes]
        assert edit_uri == uri and text_edit.new_text == "tpi" and text_edit.range == jup.range
