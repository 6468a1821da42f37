"""The citewise language server: a pygls 2 server that owns the protocol state and runs features.

Threads: the asyncio loop only speaks the protocol; `run` hands every features call to
the `features` lane, and slow work goes to the background lanes. The model, and which
thread owns which state, is stated once, in `citewise.server.features.background`.

Failures. `run` turns an exception inside a feature into a window/logMessage and the
handler's empty result; `run_strict` turns it into an LSP error response carrying the
message (RequestCancelled when the user cancelled a long command). Either way the
server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, BinaryIO, TypeVar, TypeVarTuple

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from citewise.bib.errors import CitewiseError
from citewise.server.features.background import Lanes
from citewise.server.features.commands import Cancelled
from citewise.server.features.settings import Settings
from citewise.server.features.workspace import Workspace
from citewise.server.lsp import convert
from citewise.server.lsp.debounce import Debouncer
from citewise.server.lsp.text_sync import LineWorkspace

logger = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

REQUEST_FAILED = -32803
READY_TIMEOUT_S = 30.0


def _version() -> str:
    try:
        return version("citewise")
    except PackageNotFoundError:
        return "0+unknown"


class CitewiseProtocol(LanguageServerProtocol):
    """pygls' protocol, with four changes.

    It always negotiates UTF-16 positions, the LSP default, which is what the features
    count in. Open documents are `LineDocument`s, whose edits cost what they touch. A
    request whose params do not match the method's type gets an InvalidParams error
    response (pygls would drop it and leave the client waiting). And `shutdown` cancels
    the requests in flight over a copy of pygls' table: cancelling a future runs callbacks
    that remove it, and iterating the table itself failed with "dictionary changed size".
    """

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None
        result = yield from super().lsp_initialize(params)
        plain = self._workspace
        assert plain is not None  # pygls' lsp_initialize created it
        self._workspace = LineWorkspace(plain.root_uri, plain._sync_kind, list(plain.folders.values()),
                                        plain.position_encoding)
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" not in data or "method" not in data:
                raise
            detail = f"{data['method']}: {error.message}: {error.__cause__ or 'params do not match'}"
            self._send_response(data["id"], error=JsonRpcInvalidParams(detail[:500]).to_response_error())
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is not _ANSWERED:
            super().handle_message(message)


_ANSWERED = object()


@dataclass
class ClientFlags:
    """The few client capabilities the server's behaviour depends on."""

    work_done_progress: bool = False
    configuration: bool = False
    watch_files_dynamically: bool = False
    apply_edit: bool = False

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities) -> ClientFlags:
        window, workspace = capabilities.window, capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        return cls(
            work_done_progress=bool(window and window.work_done_progress),
            configuration=bool(workspace and workspace.configuration),
            watch_files_dynamically=bool(watched and watched.dynamic_registration),
            apply_edit=bool(workspace and workspace.apply_edit),
        )


class CitewiseServer(LanguageServer):
    """Protocol state: the features workspace (once created), settings, threads and client flags."""

    def __init__(self) -> None:
        super().__init__(
            "citewise",
            _version(),
            protocol_cls=CitewiseProtocol,
            converter_factory=convert.converter,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.project: Workspace | None = None
        self.project_error: str | None = None
        self.project_ready = asyncio.Event()
        self.settings: Settings | None = None
        self.init_options: Any = None
        self.roots: list[str] = []
        self.client_flags = ClientFlags()
        self.torch_imported_at_initialize: bool | None = None
        self.model_state = "not started"
        self.watching = "none"
        self.lanes = Lanes(keep_built=True)
        self.sent_versions: dict[str, int | None] = {}  # the version of each open document the features hold
        self.document_numbers: dict[str, int] = {}  # URI -> its number in completion items' `data`
        self.accept_checks: set[str] = set()
        self.tasks: set[asyncio.Task[Any]] = set()  # what `spawn` started and has not finished
        self.shown_messages: set[str] = set()
        self.debouncer = Debouncer()
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """pygls' stdio server, reading frames with `transport.read_messages` (see there why)."""
        from pygls.io_ import StdoutWriter

        from citewise.server.lsp.transport import read_stdin

        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(read_stdin(self.protocol, stdin or sys.stdin.buffer, self._stop_event))
        except BrokenPipeError:
            logger.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]  # pygls' Server.shutdown has no annotations

    def start_tcp(self, host: str, port: int) -> None:
        """pygls' TCP server (one client), reading frames with `transport.read_messages`."""
        from citewise.server.lsp.transport import READ_CHUNK, read_messages

        self._stop_event = stop = threading.Event()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)
            await read_messages(self.protocol, partial(reader.read, READ_CHUNK), stop)
            self.shutdown()  # type: ignore[no-untyped-call]  # pygls' Server.shutdown has no annotations

        async def serve() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            async with self._server:
                await self._server.serve_forever()

        try:
            asyncio.run(serve())
        except asyncio.CancelledError:
            pass

    # --- running features --------------------------------------------------------------

    async def ready(self) -> Workspace | None:
        """The features workspace, once `initialized` has created it; None if that failed.

        Requests before `initialize` get ServerNotInitialized; if `initialized` never
        comes, requests fail after READY_TIMEOUT_S instead of waiting forever.
        """
        if self.loop is None:
            raise JsonRpcServerNotInitialized("citewise: send `initialize` first")
        try:
            await asyncio.wait_for(self.project_ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            raise JsonRpcException("citewise is not ready: the client has not sent `initialized`",
                                   code=REQUEST_FAILED) from None
        return self.project

    async def run(self, function: Callable[[Workspace, *Ts], T], *args: *Ts,
                  lane: str = "features") -> T | None:
        """`function(project, *args)` on `lane`; a failure is logged and None returned (callers write `or []`).

        Only a request before `initialize` is an error (ServerNotInitialized, as the LSP asks).
        """
        try:
            return await self.run_strict(function, *args, lane=lane)
        except JsonRpcServerNotInitialized:
            raise
        except JsonRpcException as error:
            self.log(error.message, types.MessageType.Warning)
            return None

    async def run_strict(self, function: Callable[[Workspace, *Ts], T], *args: *Ts,
                         lane: str = "features") -> T:
        """`function(project, *args)` on `lane`; a failure becomes an LSP error with its message."""
        project = await self.ready()
        if project is None:
            raise JsonRpcException(f"citewise is not ready: {self.project_error}", code=REQUEST_FAILED)
        self._send_changed_documents(project)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.lanes[lane], partial(function, project, *args))
        except Cancelled as error:
            raise JsonRpcRequestCancelled(str(error)) from error
        except CitewiseError as error:
            raise JsonRpcException(str(error), code=REQUEST_FAILED) from error
        except Exception as error:
            name = getattr(function, "__name__", "feature")
            self.log(f"{name} failed:\n{traceback.format_exc()}", types.MessageType.Error)
            raise JsonRpcException(f"{name} failed: {error}", code=REQUEST_FAILED) from error

    def _send_changed_documents(self, project: Workspace) -> None:
        """Queue the latest text of every open document whose version the features do not
        hold yet ahead of the call about to be queued: one update per document, however many
        edits came in between. (pygls applies each edit as it arrives; handlers run later.)"""
        for uri, document in list(self.workspace.text_documents.items()):
            if uri not in self.sent_versions or self.sent_versions[uri] != document.version:
                self.sent_versions[uri] = document.version
                self.lanes["features"].submit(project.update_document, uri, document.source, document.version)

    # --- talking to the client from any thread -----------------------------------------

    def call_in_loop(self, function: Callable[[*Ts], object], *args: *Ts) -> None:
        """Run `function(*args)` on the event loop: the only thread that may write to the client."""
        if self.loop is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(function, *args)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coroutine` as a task of the event loop, held until it finishes (the loop holds tasks
        only weakly, so a task nobody keeps can vanish mid-run)."""
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        logger.info(message)
        self.call_in_loop(self.window_log_message, types.LogMessageParams(type=kind, message=message))

    def show_once(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """window/showMessage, but never the same text twice in a session."""
        if message in self.shown_messages:
            return
        self.shown_messages.add(message)
        self.call_in_loop(self.window_show_message, types.ShowMessageParams(type=kind, message=message))

    def notify_suggestions(self, payload: dict[str, Any]) -> None:
        self.call_in_loop(self.protocol.notify, "citewise/suggestions", payload)

    def document_number(self, uri: str) -> int:
        """A number for `uri`, the same for the whole session (from 1), that completion items carry
        instead of the URI (convert.completion_list_to_json)."""
        return self.document_numbers.setdefault(uri, len(self.document_numbers) + 1)

    def numbered_document(self, number: int) -> str | None:
        """The URI `document_number` gave `number`, if any."""
        return next((uri for uri, given in self.document_numbers.items() if given == number), None)

    def open_versions(self) -> dict[str, int | None]:
        return {uri: doc.version for uri, doc in self.workspace.text_documents.items()}

    def shutdown_threads(self) -> None:
        self.stopping = True
        self.debouncer.cancel_all()
        self.lanes.shutdown()


def create_server() -> CitewiseServer:
    """A server with every handler registered (imports the features, never torch)."""
    from citewise.server.lsp import commands, documents, handlers, lifecycle

    server = CitewiseServer()
    for module in (lifecycle, documents, handlers, commands):
        module.register(server)
    return server


def torch_imported() -> bool:
    return "torch" in sys.modules
