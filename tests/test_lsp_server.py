"""The language server's protocol behaviour, end to end over stdio: lifecycle, settings, watching, bad input.

Every test runs a real `citewise serve` subprocess with the client capabilities of
VS Code and of Neovim.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
from lsp_support import (
    SERVER_COMMAND,
    build_index,
    change_file,
    execute,
    lsp_session,
    open_file,
    position_of,
    server_env,
    status,
    wait_for_setting,
    wait_until,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcException

COMMANDS = {
    "citewise.insertCitation",
    "citewise.generateBib",
    "citewise.searchPapers",
    "citewise.reindex",
    "citewise.syncZotero",
    "citewise.status",
}


@pytest.fixture(scope="session")
def lexical_index(tmp_path_factory) -> Path:
    """An index of the bundled digest and library without embeddings (no model needed)."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    path = tmp_path_factory.mktemp("lsp-index") / "index.sqlite"
    return build_index(path, examples / "library.bib", examples / "daily-papers-digest.txt", embed=False)


async def test_initialize_answers_without_torch_and_advertises_features(client_name, latex_workspace, lexical_index):
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index) as client:
        capabilities = client.initialize_result.capabilities
        assert set(capabilities.completion_provider.trigger_characters) >= {"{", ",", "@"}
        assert capabilities.hover_provider and capabilities.definition_provider and capabilities.references_provider
        assert capabilities.rename_provider and capabilities.workspace_symbol_provider
        assert capabilities.document_symbol_provider and capabilities.code_action_provider
        assert set(capabilities.execute_command_provider.commands) >= COMMANDS
        state = await status(client)
        assert state["torchImportedAtInitialize"] is False
        assert state["ready"] is True
        assert state["indexCount"] > 50
        assert isinstance(state["backgroundWork"], list)


async def test_model_loads_in_the_background_with_progress(client_name, latex_workspace, lexical_index):
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index) as client:
        state = await status(client)
        assert state["modelState"] in ("loading", "ready")
        await wait_until(lambda: client.progress_reports and _ended(client), timeout=120)
        (reports,) = [r for r in client.progress_reports.values() if r]
        assert reports[0].kind == "begin" and "embedding model" in reports[0].title
        assert reports[-1].kind == "end"
        final = await status(client)
        assert final["modelReady"] is True and final["torchImported"] is False  # bert.py needs no torch


def _ended(client) -> bool:
    return any(reports and reports[-1].kind == "end" for reports in client.progress_reports.values())


async def test_bad_settings_are_reported_once_and_defaults_used(client_name, latex_workspace, lexical_index):
    options = {"suggestionCount": "many", "debounceMs": 120}
    configuration = {"claimHints": "yes please"}
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index, options=options,
                           configuration=configuration) as client:
        await wait_until(lambda: len(client.messages) >= 2)
        settings = (await status(client))["settings"]
        assert settings["suggestion_count"] == 5 and settings["debounce_ms"] == 120
        assert settings["claim_hints"] is False
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"citewise": {"claimHints": "yes please", "suggestionCount": 3}})
        )
        await wait_for_setting(client, "suggestion_count", 3)
        texts = [m.message for m in client.messages]
        assert len(texts) == 2, texts
        assert any("suggestionCount" in t for t in texts) and any("claimHints" in t for t in texts)
        assert all(m.type == types.MessageType.Warning for m in client.messages)


async def test_configuration_change_is_applied(client_name, latex_workspace, lexical_index):
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index,
                           configuration={"debounceMs": 50}) as client:
        assert (await status(client))["settings"]["debounce_ms"] == 50
        client.set_configuration({"debounceMs": 75, "citeCommand": {"latex": "\\citep"}}, section="citewise")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        settings = await wait_for_setting(client, "debounce_ms", 75)
        assert settings["cite_command"]["latex"] == "\\citep"
        assert client.messages == []


async def test_bib_rewritten_on_disk_is_reloaded(client_name, latex_workspace, lexical_index):
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index) as client:
        draft = latex_workspace / "paper.tex"
        uri = open_file(client, draft)
        await wait_until(lambda: 7 in _undefined_lines(client, uri))
        if client_name == "visual-studio-code":
            assert (await status(client))["watching"] == "client"
            (registration,) = client.registrations
            assert registration.register_options["watchers"][0]["globPattern"] == "**/*.bib"
        else:
            assert (await status(client))["watching"] == "polling"

        bib = latex_workspace / "refs.bib"
        bib.write_text(bib.read_text() + "\n@article{liuPretrainPromptPredicts2023,\n  title = {Pre-Train, Prompt, and Predict},\n"
                       "  author = {Liu, Pengfei},\n  journal = {ACM Computing Surveys},\n  year = {2023}\n}\n")
        if client_name == "visual-studio-code":
            client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=bib.as_uri(), type=types.FileChangeType.Changed)]))
        await wait_until(lambda: _undefined_lines(client, uri) == {6}, timeout=15)
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(draft.read_text(), "liuPretrainPromptPredicts2023", 3)))
        assert "Prompt" in hover.contents.value


def _undefined_lines(client, uri) -> set[int]:
    return {d.range.start.line for d in client.diagnostics.get(uri, []) if d.code == "undefined-key"}


async def test_bad_input_never_kills_the_server(client_name, tmp_path, latex_workspace, lexical_index):
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index) as client:
        good = latex_workspace / "paper.tex"
        good_uri = open_file(client, good)

        binary = latex_workspace / "binary.tex"
        binary.write_bytes(bytes(range(256)) * 64)
        open_file(client, binary, text=binary.read_bytes().decode("latin-1"))
        huge = latex_workspace / "huge.tex"
        open_file(client, huge, text=("Words that go on and on \\cite{songScore" + "x" * 60 + "} %\n") * 120_000)
        broken = latex_workspace / "broken.tex"
        broken_uri = open_file(client, broken, text="Unbalanced {{{ and \\cite{never closing, \udcff surrogate \x00 nul")
        unopened = (latex_workspace / "never-opened.tex").as_uri()
        change_file(client, unopened, 7, (0, 0), "didChange before didOpen")

        far = types.Position(line=10_000, character=10_000)
        for uri in (binary.as_uri(), huge.as_uri(), broken_uri, unopened):
            document = types.TextDocumentIdentifier(uri=uri)
            completion = await client.text_document_completion_async(types.CompletionParams(text_document=document, position=far))
            assert isinstance(completion, types.CompletionList)
            assert await client.text_document_hover_async(types.HoverParams(text_document=document, position=far)) is None
            await client.text_document_definition_async(types.DefinitionParams(text_document=document, position=far))
            await client.text_document_references_async(types.ReferenceParams(
                text_document=document, position=far, context=types.ReferenceContext(include_declaration=True)))
            await client.text_document_code_action_async(types.CodeActionParams(
                text_document=document, range=types.Range(start=far, end=far),
                context=types.CodeActionContext(diagnostics=[])))

        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=good_uri),
            position=position_of(good.read_text(), "songScoreBased", 2)))
        assert "Score-Based Generative Modeling" in hover.contents.value
        assert (await status(client))["ready"] is True


async def test_bad_command_arguments_get_an_error_with_a_message(client_name, latex_workspace, lexical_index):
    async with lsp_session(client_name, latex_workspace, index_path=lexical_index) as client:
        with pytest.raises(JsonRpcException, match="searchPapers expects"):
            await execute(client, "citewise.searchPapers")
        with pytest.raises(JsonRpcException, match="insertCitation expects"):
            await execute(client, "citewise.insertCitation", "file:///nowhere.tex")
        assert (await status(client))["ready"] is True


def test_server_exits_when_the_client_dies(latex_workspace, lexical_index):
    server = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=server_env(lexical_index))
    server.stdin.write(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"processId": None, "rootUri": latex_workspace.as_uri(), "capabilities": {}}}))
    server.stdin.flush()
    assert json.loads(_read_frame(server.stdout))["id"] == 1
    server.stdin.close()
    assert server.wait(timeout=20) is not None


def test_shutdown_and_exit_end_the_process_cleanly(latex_workspace, lexical_index):
    server = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=server_env(lexical_index))
    _ask(server, 1, "initialize", {"processId": None, "rootUri": latex_workspace.as_uri(), "capabilities": {}})
    _send(server, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    assert "result" in _ask(server, 2, "shutdown", None)
    _send(server, {"jsonrpc": "2.0", "method": "exit", "params": None})
    assert server.wait(timeout=20) == 0
    errors = server.stderr.read().decode()
    assert "Traceback" not in errors and "terminate called" not in errors


def test_out_of_order_and_malformed_messages_are_answered(latex_workspace, lexical_index):
    server = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=server_env(lexical_index))
    hover = {"textDocument": {"uri": (latex_workspace / "paper.tex").as_uri()}, "position": {"line": 0, "character": 0}}
    status_request = {"command": "citewise.status", "arguments": []}
    try:
        assert _ask(server, 1, "textDocument/hover", hover)["error"]["code"] == -32002
        _ask(server, 2, "initialize", {"processId": None, "rootUri": latex_workspace.as_uri(), "capabilities": {}})
        _send(server, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        reply = _ask(server, 3, "textDocument/hover", {"bogus": True})
        assert reply["error"]["code"] == -32602 and "textDocument/hover" in reply["error"]["message"]
        server.stdin.write(b"Content-Length: 5\r\n\r\n{{{{{")
        assert _ask(server, 4, "workspace/executeCommand", status_request)["result"]["ready"] is True
        assert _ask(server, 5, "textDocument/hover", hover)["result"] is None
    finally:
        server.stdin.close()
        server.wait(timeout=20)


def _send(server, message: dict) -> None:
    server.stdin.write(_frame(message))
    server.stdin.flush()


def _ask(server, request_id: int, method: str, params: dict) -> dict:
    """Send a request and read messages until its response (skipping the server's notifications)."""
    _send(server, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
    while (message := json.loads(_read_frame(server.stdout))).get("id") != request_id or "method" in message:
        pass
    return message


def test_tcp_transport_answers_initialize(latex_workspace, lexical_index):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*SERVER_COMMAND, "--tcp", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL,
                              env=server_env(lexical_index))
    try:
        connection = _connect(port)
        with connection, connection.makefile("rwb") as stream:
            stream.write(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                 "params": {"processId": None, "rootUri": latex_workspace.as_uri(), "capabilities": {}}}))
            stream.flush()
            reply = json.loads(_read_frame(stream))
        assert reply["result"]["serverInfo"]["name"] == "citewise"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_tcp_option_rejects_a_bad_address():
    result = subprocess.run([*SERVER_COMMAND, "--tcp", "nowhere"], capture_output=True, text=True)
    assert result.returncode == 2 and "HOST:PORT" in result.stderr


def _connect(port: int) -> socket.socket:
    deadline = time.monotonic() + 30
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _read_frame(stream) -> bytes:
    length = 0
    while (line := stream.readline().strip()):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return stream.read(length)
