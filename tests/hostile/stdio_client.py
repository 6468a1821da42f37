"""A raw-bytes LSP client for the hostile tests: `citewise serve` as a subprocess, frames written by hand.

pytest-lsp only writes well-formed frames; these tests need to send broken ones. `StdioServer`
writes any bytes to the server's stdin, reads its stdout frame by frame on a thread, and
answers the requests the server sends (workspace/configuration, progress, applyEdit) with
empty results so that it never waits on us.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

SERVER_COMMAND = [sys.executable, "-m", "citewise", "serve"]


def frame(message: dict | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class StdioServer:
    """One `python -m citewise serve` process talking raw LSP frames."""

    def __init__(self, root: Path, index_path: Path | None = None, env: dict | None = None) -> None:
        environment = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **(env or {}))
        if index_path is not None:
            environment["CITEWISE_INDEX"] = str(index_path)
        self.process = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=environment, cwd=root)
        self.root = root
        self.responses: dict[Any, queue.Queue] = {}
        self.notifications: list[dict] = []
        self.applied_edits: list[dict] = []
        self.edit_failures: list[Exception] = []
        self.on_apply_edit = lambda params: None
        """The client side of workspace/applyEdit; an exception it raises is recorded in edit_failures."""
        self._lock = threading.Lock()
        self._next_id = 0
        self.stderr = b""
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # --- writing ---------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send_raw(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def request_message(self, method: str, params: Any = None) -> tuple[int, dict]:
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            self.responses[request_id] = queue.Queue()
        return request_id, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}

    def send_request(self, method: str, params: Any = None) -> int:
        request_id, message = self.request_message(method, params)
        self.send_raw(frame(message))
        return request_id

    def response(self, request_id: int, timeout: float = 30.0) -> dict:
        """The response to `request_id`; AssertionError if none comes within `timeout` seconds."""
        with self._lock:
            answers = self.responses.setdefault(request_id, queue.Queue())
        try:
            return answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"request {request_id} got no answer within {timeout} s; stderr: {self.stderr[-2000:]!r}") from None

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> dict:
        return self.response(self.send_request(method, params), timeout)

    def initialize(self, options: dict | None = None) -> dict:
        result = self.request("initialize", {
            "processId": os.getpid(), "rootUri": self.root.as_uri(),
            "workspaceFolders": [{"uri": self.root.as_uri(), "name": self.root.name}],
            "capabilities": {"workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}}},
            "initializationOptions": options or {},
        })
        self.notify("initialized", {})
        return result

    def status(self, timeout: float = 30.0) -> dict:
        return self.request("workspace/executeCommand", {"command": "citewise.status", "arguments": []}, timeout)

    def close(self, timeout: float = 20.0) -> int:
        """shutdown + exit; the exit code (the process is killed if it does not leave in time)."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", None, timeout)
                self.notify("exit")
            return self.process.wait(timeout)
        except (subprocess.TimeoutExpired, AssertionError, BrokenPipeError):
            self.process.kill()
            self.process.wait()
            raise
        finally:
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    # --- reading ---------------------------------------------------------------------

    def log_messages(self) -> list[str]:
        return [n["params"]["message"] for n in list(self.notifications) if n.get("method") == "window/logMessage"]

    def _read_stdout(self) -> None:
        stdout = self.process.stdout
        while True:
            length = None
            while True:
                line = stdout.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stdout.read(length))
            if "method" in message and "id" in message:
                self._answer_server_request(message)
            elif "method" in message:
                self.notifications.append(message)
            else:
                with self._lock:
                    target = self.responses.setdefault(message.get("id"), queue.Queue())
                target.put(message)

    def _answer_server_request(self, message: dict) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [None] * len(message["params"]["items"])
        elif message["method"] == "workspace/applyEdit":
            self.applied_edits.append(message["params"])
            try:
                self.on_apply_edit(message["params"])
                result = {"applied": True}
            except Exception as error:  # noqa: BLE001 - kept for the test to assert on
                self.edit_failures.append(error)
                result = {"applied": False, "failureReason": str(error)}
        try:
            self.send_raw(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))
        except (BrokenPipeError, ValueError):
            pass

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr += line
