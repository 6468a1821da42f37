"""Language features end to end over stdio: completion, suggestions, hover, navigation, diagnostics, commands.

A real `citewise serve` subprocess, VS Code's and Neovim's client capabilities, workspaces
copied from tests/fixtures/lsp (and ../shared/corpus/drafts when present), and a real
SQLite index of the bundled digest and library. The suggestion test uses the real model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_support import (
    FIXTURES,
    SHARED,
    build_index,
    change_file,
    copy_workspace,
    execute,
    lsp_session,
    open_file,
    position_of,
    status,
    uri_to_path,
    wait_until,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def embedded_index(tmp_path_factory) -> Path:
    """The bundled digest and library, embedded with the real model."""
    path = tmp_path_factory.mktemp("lsp-embedded-index") / "index.sqlite"
    return build_index(path, EXAMPLES / "library.bib", EXAMPLES / "daily-papers-digest.txt")


@pytest.fixture
def markdown_workspace(tmp_path) -> Path:
    return copy_workspace(FIXTURES / "lsp" / "markdown", tmp_path / "markdown")


def _doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def _complete(client, uri: str, position: types.Position) -> types.CompletionList:
    return await client.text_document_completion_async(types.CompletionParams(text_document=_doc(uri), position=position))


def _accept(client, uri: str, item: types.CompletionItem, version: int = 2) -> None:
    """What an editor sends when the user accepts `item`: a didChange applying its textEdit."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=item.text_edit.range, text=item.text_edit.new_text)],
    ))


def _text_holding(path: Path, needle: str) -> str | None:
    text = path.read_text() if path.exists() else ""
    return text if needle in text else None


async def test_completion_in_latex_offers_bib_entries_then_index_papers(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text().replace("\\cite{vaswaniAttentionAllYou2017}", "\\cite{vasw}")
        draft.write_text(text)
        uri = open_file(client, draft, text)

        result = await _complete(client, uri, position_of(text, "\\cite{vasw}", len("\\cite{vasw")))
        assert result.is_incomplete is True
        by_key = {item.label: item for item in result.items}
        item = by_key["vaswaniAttentionAllYou2017"]
        assert "attention" in item.filter_text.lower()
        assert "Vaswani" in item.detail and "2017" in item.detail
        resolved = item if item.documentation else await client.completion_item_resolve_async(item)
        assert "Attention Is All You Need" in resolved.documentation.value
        assert item.text_edit.new_text == "vaswaniAttentionAllYou2017"
        assert item.command is None, "eglot and Helix ignore commands: the server adds the entry itself"

        _accept(client, uri, item)
        bib = await wait_until(lambda: _text_holding(latex_workspace / "refs.bib", "{vaswaniAttentionAllYou2017,"))
        assert "@inproceedings{vaswaniAttentionAllYou2017," in bib
        assert bib.count("@inproceedings{songScoreBasedGenerativeModeling2021,") == 1


async def test_completion_in_multi_key_list_ranks_bib_entries_first(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text()
        uri = open_file(client, draft)
        position = position_of(text, "zhengDPMSolverv3ImprovedDiffusion2023, ", len("zhengDPMSolverv3ImprovedDiffusion2023, "))
        result = await _complete(client, uri, position)
        ranked = sorted(result.items, key=lambda item: item.sort_text)
        assert ranked[0].label in {"songScoreBasedGenerativeModeling2021", "zhengDPMSolverv3ImprovedDiffusion2023",
                                   "unusedEntry2020"}
        assert ranked[0].command is None


async def test_completion_in_pandoc_citation_creates_missing_bib(client_name, markdown_workspace, embedded_index):
    async with lsp_session(client_name, markdown_workspace, index_path=embedded_index) as client:
        (markdown_workspace / "refs.bib").unlink()
        draft = markdown_workspace / "notes.md"
        text = draft.read_text() + "\nFast model editing works at scale [@mitch"
        uri = open_file(client, draft, text)
        result = await _complete(client, uri, position_of(text, "[@mitch", len("[@mitch")))
        item = next(i for i in result.items if i.label == "mitchellFastModelEditing2022")
        _accept(client, uri, item)
        bib = await wait_until(lambda: _text_holding(markdown_workspace / "refs.bib", "{mitchellFastModelEditing2022,"))
        assert "@inproceedings{mitchellFastModelEditing2022," in bib


async def test_suggestions_arrive_after_typing_with_the_real_model(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index,
                           configuration={"debounceMs": 100}) as client:
        await wait_until(lambda: client.progress_reports and any(
            r and r[-1].kind == "end" for r in client.progress_reports.values()), timeout=120)
        assert (await status(client))["modelReady"] is True
        draft = latex_workspace / "paper.tex"
        uri = open_file(client, draft)
        lines = draft.read_text().split("\n")
        line = lines.index("\\bibliographystyle{plain}") - 1
        sentence = "Recommender systems with huge item catalogs learn representations without labels"
        for version, end in enumerate(range(20, len(sentence) + 1, 20), start=2):
            change_file(client, uri, version, (line, end - 20), sentence[end - 20:end])
        change_file(client, uri, 99, (line, len(sentence) // 20 * 20), sentence[len(sentence) // 20 * 20:] + ".")
        client.text_document_did_change(types.DidChangeTextDocumentParams(  # as Neovim 0.7 sends after some edits
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=99), content_changes=[]))

        notification = await wait_until(lambda: client.suggestions.received, timeout=30)
        assert len(notification) == 1
        payload = notification[0]
        assert payload["uri"] == uri and payload["range"]["start"]["line"] == line
        titles = [item["title"] for item in payload["items"]]
        assert "Self-supervised Learning for Large-scale Item Recommendations" in titles[:3]
        assert set(payload["items"][0]) == {"key", "title", "authors", "year", "score", "inBib", "reason"}
        assert (await status(client))["torchImported"] is False  # the bundled model runs on bert.py, without torch

        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=_doc(uri), range=types.Range(start=types.Position(line=line, character=5),
                                                        end=types.Position(line=line, character=5)),
            context=types.CodeActionContext(diagnostics=[])))
        cite = next(a for a in actions if a.title.startswith("Cite: Self-supervised Learning"))
        assert _edited_paths(cite.edit) == {str(draft)}
        assert cite.command.command == "citewise.addBibEntry"
        bib_before = (latex_workspace / "refs.bib").read_text()
        assert await execute(client, cite.command.command, *cite.command.arguments) == {"applied": True}
        assert len((latex_workspace / "refs.bib").read_text()) > len(bib_before)
        assert _edited_paths(client.editor_files.received[-1]) == {str(latex_workspace / "refs.bib")}


def _edited_paths(edit: types.WorkspaceEdit) -> set[str]:
    if edit.document_changes:
        return {uri_to_path(c.text_document.uri) for c in edit.document_changes if isinstance(c, types.TextDocumentEdit)}
    return {uri_to_path(uri) for uri in edit.changes}


async def test_hover_definition_and_references(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text()
        uri = open_file(client, draft)
        position = position_of(text, "songScoreBasedGenerativeModeling2021", 4)

        hover = await client.text_document_hover_async(types.HoverParams(text_document=_doc(uri), position=position))
        assert "Score-Based Generative Modeling" in hover.contents.value and "2021" in hover.contents.value
        assert hover.contents.kind == types.MarkupKind.Markdown

        missing = await client.text_document_hover_async(types.HoverParams(
            text_document=_doc(uri), position=position_of(text, "liuPretrainPromptPredicts2023", 3)))
        assert "liuPretrainPromptPredict2023" in missing.contents.value

        (definition,) = await client.text_document_definition_async(
            types.DefinitionParams(text_document=_doc(uri), position=position))
        bib = latex_workspace / "refs.bib"
        assert uri_to_path(definition.uri) == str(bib) and definition.range.start.line == 0

        found = await client.text_document_references_async(types.ReferenceParams(
            text_document=_doc(uri), position=position, context=types.ReferenceContext(include_declaration=False)))
        assert sorted(loc.range.start.line for loc in found if loc.uri == uri) == [4, 5]


async def test_rename_changes_drafts_and_bib_in_one_edit(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text()
        uri = open_file(client, draft)
        position = position_of(text, "songScoreBasedGenerativeModeling2021", 4)
        prepared = await client.text_document_prepare_rename_async(
            types.PrepareRenameParams(text_document=_doc(uri), position=position))
        assert prepared is not None
        edit = await client.text_document_rename_async(
            types.RenameParams(text_document=_doc(uri), position=position, new_name="song2021score"))
        if client_name == "visual-studio-code":
            assert edit.document_changes and edit.changes is None
            versions = {c.text_document.uri: c.text_document.version for c in edit.document_changes}
            assert versions[uri] == 1
        else:
            assert edit.changes and edit.document_changes is None
        assert _edited_paths(edit) == {str(draft), str(latex_workspace / "refs.bib")}
        edits = edit.document_changes[0].edits if edit.document_changes else None
        total = sum(len(c.edits) for c in edit.document_changes) if edit.document_changes else sum(
            len(e) for e in edit.changes.values())
        assert total == 3 and (edits is None or all(e.new_text == "song2021score" for e in edits))

        with pytest.raises(JsonRpcException):
            await client.text_document_rename_async(
                types.RenameParams(text_document=_doc(uri), position=position, new_name="bad key, with comma"))


async def test_symbols_for_bib_files_and_the_index(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        bib = latex_workspace / "refs.bib"
        bib_uri = open_file(client, bib)
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=_doc(bib_uri)))
        assert [s.name for s in symbols] == ["songScoreBasedGenerativeModeling2021",
                                             "zhengDPMSolverv3ImprovedDiffusion2023", "unusedEntry2020"]
        papers = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="diffusion ODE solver"))
        assert papers and any("DPM" in (s.name + (s.container_name or "")) for s in papers)


async def test_diagnostics_for_drafts_and_bib_files_with_fixes(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        draft = latex_workspace / "paper.tex"
        uri = open_file(client, draft)
        bib_uri = (latex_workspace / "refs.bib").as_uri()
        await wait_until(lambda: uri in client.diagnostics and bib_uri in client.diagnostics)
        undefined = [d for d in client.diagnostics[uri] if d.code == "undefined-key"]
        assert {d.range.start.line for d in undefined} == {6, 7}
        unused = [d for d in client.diagnostics[bib_uri] if d.code == "unused-entry"]
        assert len(unused) == 1 and unused[0].severity == types.DiagnosticSeverity.Hint

        near_miss = next(d for d in undefined if d.range.start.line == 7)
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=_doc(uri), range=near_miss.range, context=types.CodeActionContext(diagnostics=[near_miss])))
        titles = [a.title for a in actions]
        assert any("liuPretrainPromptPredict2023" in t for t in titles), titles


async def test_a_bib_fields_error_reaches_the_editor_once_its_fields_are_parsed(client_name, latex_workspace,
                                                                              embedded_index):
    bib = latex_workspace / "refs.bib"
    bib.write_text(bib.read_text() + "\n@article{stringy2020,\n  title = {A Title},\n  journal = toms,\n  year = 2020\n}\n")
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        open_file(client, latex_workspace / "paper.tex")
        bib_uri = bib.as_uri()
        errors = await wait_until(lambda: [d for d in client.diagnostics.get(bib_uri, []) if d.code == "bib-syntax"])
        assert [d.message for d in errors] == ["entry 'stringy2020' uses undefined @string 'toms'"]
        assert any(d.code == "unused-entry" for d in client.diagnostics[bib_uri])


async def test_claim_hints_when_switched_on(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index,
                           configuration={"claimHints": True}) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text().replace("\\bibliographystyle", "Recent work has shown that 95% of samplers are slow.\n\n\\bibliographystyle")
        uri = open_file(client, draft, text)
        claim_line = text.split("\n").index("Recent work has shown that 95% of samplers are slow.")
        hints = await wait_until(lambda: [d for d in client.diagnostics.get(uri, []) if d.code == "claim-without-citation"])
        assert {d.range.start.line for d in hints} == {claim_line}
        assert all(d.severity == types.DiagnosticSeverity.Hint for d in hints)


async def test_commands(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        draft = latex_workspace / "paper.tex"
        text = draft.read_text()
        uri = open_file(client, draft)

        papers = await execute(client, "citewise.searchPapers", "fast model editing", 3)
        assert papers[0]["key"] == "mitchellFastModelEditing2022"

        position = position_of(text, "changed sequence modelling", len("changed sequence modelling"))
        applied = await execute(client, "citewise.insertCitation", uri, {"line": position.line, "character": position.character},
                                "mitchellFastModelEditing2022")
        assert applied == {"applied": True}
        assert "mitchellFastModelEditing2022" in draft.read_text()
        assert "@inproceedings{mitchellFastModelEditing2022," in (latex_workspace / "refs.bib").read_text()

        written = await execute(client, "citewise.generateBib", uri)
        assert Path(written["path"]).read_text().count("@") >= 3

        summary = await execute(client, "citewise.reindex")
        assert isinstance(summary, dict)
        reports = [r for r in client.progress_reports.values() if r and "reindex" in getattr(r[0], "title", "")]
        assert reports and reports[0][-1].kind == "end"

        with pytest.raises(JsonRpcException, match="(?i)zotero"):
            await execute(client, "citewise.syncZotero")
        assert (await status(client))["ready"] is True


async def test_reindex_is_cancelled_from_the_progress_bar(client_name, latex_workspace, embedded_index):
    async with lsp_session(client_name, latex_workspace, index_path=embedded_index) as client:
        await wait_until(lambda: client.progress_reports)
        open_file(client, latex_workspace / "paper.tex")
        client.cancel_next_progress = True
        with pytest.raises(JsonRpcException, match="reindex cancelled") as cancelled:
            await execute(client, "citewise.reindex")
        assert cancelled.value.code == types.LSPErrorCodes.RequestCancelled
        (reports,) = [r for r in client.progress_reports.values() if r and "reindex" in r[0].title]
        assert reports[0].cancellable is True and reports[-1].message == "cancelled"
        assert (await status(client))["ready"] is True


async def test_shared_corpus_quarto_book(client_name, tmp_path, embedded_index):
    source = SHARED / "corpus" / "drafts" / "coding-for-economists"
    if not source.is_dir():
        pytest.skip("../shared/corpus/drafts is absent")
    workspace = copy_workspace(source, tmp_path / "book")
    async with lsp_session(client_name, workspace, index_path=embedded_index) as client:
        chapter = workspace / "craft-writing-papers.qmd"
        uri = open_file(client, chapter)
        await wait_until(lambda: uri in client.diagnostics, timeout=30)
        text = chapter.read_text()
        key_start = text.index("[@") + 2
        position = position_of(text, text[key_start:key_start + 6], 2)
        hover = await client.text_document_hover_async(types.HoverParams(text_document=_doc(uri), position=position))
        assert hover is not None and hover.contents.value


async def test_resolving_an_item_reads_the_bib_of_the_draft_it_was_offered_in(tmp_path):
    """Items carry the number the server gave their draft, not its URI: resolve still finds each
    draft's own .bib when two drafts cite the same key from different files."""
    drafts = {}
    for folder, title in (("one", "Alpha Results on Graphs"), ("two", "Beta Results on Trees")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "refs.bib").write_text(f"@article{{smith2020,\n  title = {{{title}}},\n"
                                                    "  author = {Smith, Ann},\n  year = {2020}\n}\n")
        text = "\\documentclass{article}\n\\begin{document}\nSee \\cite{smi}.\n\\bibliography{refs}\n\\end{document}\n"
        (tmp_path / folder / "paper.tex").write_text(text)
        drafts[folder] = (tmp_path / folder / "paper.tex", text, title)
    async with lsp_session("visual-studio-code", tmp_path, index_path=tmp_path / "absent.sqlite") as client:
        items = {}
        for folder, (path, text, _) in drafts.items():
            uri = open_file(client, path, text)
            result = await _complete(client, uri, position_of(text, "\\cite{smi", len("\\cite{smi")))
            items[folder] = next(item for item in result.items if item.label == "smith2020")
        assert {items["one"].data, items["two"].data} == {1, 2} and items["one"].documentation is None
        for folder, (_, _, title) in drafts.items():
            resolved = await client.completion_item_resolve_async(items[folder])
            assert title in resolved.documentation.value
