"""Helpers for the language-server tests: a real `citewise serve` driven over stdio by pytest-lsp.

`lsp_session` starts the server as a subprocess (`python -m citewise serve`), initializes
it with the capabilities of a real editor (VS Code or Neovim, as recorded by pytest-lsp)
and the given workspace, and shuts it down afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from citewise.server.drafts.uris import uri_to_path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared"
SERVER_COMMAND = [sys.executable, "-m", "citewise", "serve"]

CLIENTS = ["visual-studio-code", "neovim"]

LANGUAGE_IDS = {".tex": "latex", ".md": "markdown", ".qmd": "quarto", ".bib": "bibtex"}


class SuggestionRecorder:
    """Collects `citewise/suggestions` notifications (pytest-lsp ignores custom methods)."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    def __call__(self, params: Any) -> None:
        self.received.append(_plain(params))


class ProgressCanceller:
    """window/workDoneProgress/create like pytest-lsp's, but able to cancel the next progress at once.

    Set `client.cancel_next_progress = True`; the next progress the server creates is
    cancelled right away (window/workDoneProgress/cancel), as a user clicking "Cancel" would.
    """

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        client.cancel_next_progress = False

    def __call__(self, params: types.WorkDoneProgressCreateParams) -> None:
        self.client.progress_reports.setdefault(params.token, [])
        if self.client.cancel_next_progress:
            self.client.cancel_next_progress = False
            self.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=params.token))


def _plain(value: Any) -> Any:
    """pygls hands custom notifications over as namedtuples; tests compare plain JSON."""
    if hasattr(value, "_asdict"):
        return {name: _plain(item) for name, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def server_env(index_path: Path | None) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if index_path is not None:
        env["CITEWISE_INDEX"] = str(index_path)
    return env


@contextlib.asynccontextmanager
async def lsp_session(
    client_name: str,
    root: Path,
    *,
    index_path: Path | None = None,
    options: dict | None = None,
    configuration: dict | None = None,
    capabilities: types.ClientCapabilities | None = None,
):
    """A started, initialized client talking to a fresh `citewise serve` for workspace `root`."""
    client = LanguageClient(converter_factory=converter_telling_code_actions_from_commands)
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.WINDOW_WORK_DONE_PROGRESS_CREATE] = ProgressCanceller(client)
    register_lsp_features(client, features)
    client.suggestions = SuggestionRecorder()
    client.feature("citewise/suggestions")(client.suggestions)
    client.registrations = []
    client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: client.registrations.extend(params.registrations))
    client.editor_files = EditorFiles()
    client.feature(types.WORKSPACE_APPLY_EDIT)(client.editor_files)
    if configuration is not None:
        client.set_configuration(configuration, section="citewise")
    await client.start_io(*SERVER_COMMAND, env=server_env(index_path))
    try:
        client.initialize_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or client_capabilities(client_name),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                initialization_options=options,
            )
        )
        yield client
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 10)
        except Exception:
            # `stop` stops reading the server's output and then waits for it to exit: a server still
            # writing would wait on a full pipe forever. The hostile tests check the exit itself.
            process = client._server  # pytest-lsp keeps the subprocess here
            if process is not None and process.returncode is None:
                process.kill()
        await client.stop()


def copy_workspace(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, dirs_exist_ok=True)
    return destination


def open_file(client: LanguageClient, path: Path, text: str | None = None) -> str:
    """didOpen for `path` (its disk text unless `text` is given); returns its URI."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id=LANGUAGE_IDS.get(path.suffix, "plaintext"),
                version=1,
                text=path.read_text(encoding="utf-8", errors="replace") if text is None else text,
            )
        )
    )
    return uri


def change_file(client: LanguageClient, uri: str, version: int, start: tuple[int, int], text: str) -> None:
    """didChange inserting `text` at (line, character)."""
    position = types.Position(line=start[0], character=start[1])
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=position, end=position), text=text)],
        )
    )


async def execute(client: LanguageClient, command: str, *arguments) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments))
    )


async def status(client: LanguageClient) -> dict:
    return await execute(client, "citewise.status")


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def wait_for_setting(client: LanguageClient, name: str, value: Any, timeout: float = 10.0) -> dict:
    """Poll citewise.status until the server's settings have `name` == `value`; the settings."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (settings := (await status(client))["settings"])[name] != value:
        if loop.time() > deadline:
            raise AssertionError(f"setting {name} is {settings[name]!r}, expected {value!r}")
        await asyncio.sleep(0.05)
    return settings


def position_of(text: str, needle: str, offset: int = 0) -> types.Position:
    """The LSP position of `needle`'s first occurrence in `text`, plus `offset` characters (ASCII text)."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return types.Position(line=line, character=column)


def build_index(path: Path | str, *sources: Path, embed: bool = True) -> Path | str:
    """A real index (a SQLite file or a PostgreSQL URL) from the given files, embedded with the real model when `embed`."""
    from citewise.bib.index.store import Index
    from citewise.bib.readers import read_path

    with Index.open(path) as index:
        for source in sources:
            index.add_references(read_path(source).references)
        if embed:
            from citewise.bib.index.embed import Embedder, embed_pending

            embed_pending(index, Embedder.load())
    return path


def converter_telling_code_actions_from_commands():
    """lsprotocol's converter, except that a CodeAction carrying a command stays a CodeAction.

    lsprotocol reads any object with a "command" key as a Command; the specification tells the
    two apart by that key's type: a string in a Command, a Command object in a CodeAction.
    """
    converter = default_converter()

    def command_or_code_action(value: dict, _) -> types.Command | types.CodeAction:
        return converter.structure(value, types.Command if isinstance(value.get("command"), str) else types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], command_or_code_action)  # noqa: UP007 (a runtime type)
    return converter


class EditorFiles:
    """The client side of workspace/applyEdit: applies edits to the files on disk, like an editor that saves.

    Records every edit received so tests can inspect its shape (documentChanges or changes).
    A test may set `refuse(edit)`: when it returns a reason, the edit is refused with it, unapplied.
    """

    def __init__(self) -> None:
        self.received: list[types.WorkspaceEdit] = []
        self.refuse: Callable[[types.WorkspaceEdit], str | None] = lambda edit: None

    def __call__(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.received.append(params.edit)
        reason = self.refuse(params.edit)
        if reason is not None:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=reason)
        apply_workspace_edit(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)


def apply_workspace_edit(edit: types.WorkspaceEdit) -> None:
    for uri, text_edits in (edit.changes or {}).items():
        _apply_text_edits(Path(uri_to_path(uri)), text_edits)
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            path = Path(uri_to_path(change.uri))
            if not path.exists():
                path.write_text("", encoding="utf-8")
        elif isinstance(change, types.TextDocumentEdit):
            _apply_text_edits(Path(uri_to_path(change.text_document.uri)), change.edits)


def _apply_text_edits(path: Path, edits) -> None:
    text = path.read_text(encoding="utf-8")
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = _offset(text, edit.range.start), _offset(text, edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    path.write_text(text, encoding="utf-8")


def _offset(text: str, position: types.Position) -> int:
    """The str offset of an LSP position (test files are ASCII, so UTF-16 columns equal code points)."""
    lines = text.split("\n")
    if position.line >= len(lines):
        return len(text)
    return sum(len(line) + 1 for line in lines[: position.line]) + min(position.character, len(lines[position.line]))
