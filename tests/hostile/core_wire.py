"""A bare JSON-RPC client for `citewise serve` over stdio: every byte on the wire is the test's.

pytest-lsp answers the server's requests and waits for replies in its own way; these
tests need to send bursts of notifications and to leave requests in flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


class WireClient:
    def __init__(self, root: Path, index_path: Path) -> None:
        env = dict(os.environ, CITEWISE_INDEX=str(index_path), HF_HUB_OFFLINE="1")
        self.process = subprocess.Popen([sys.executable, "-m", "citewise", "serve"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.root = root
        self.next_id = 100

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any = None) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def read(self) -> dict[str, Any]:
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise EOFError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))

    def reply_to(self, request_id: int) -> dict[str, Any]:
        """Read until the reply to `request_id`; server requests on the way stay unanswered."""
        while True:
            message = self.read()
            if message.get("id") == request_id and "method" not in message:
                return message

    def initialize(self) -> None:
        capabilities = {"window": {"workDoneProgress": True}}
        self.reply_to(self.request("initialize", {"processId": None, "rootUri": self.root.as_uri(),
                                                  "capabilities": capabilities}))
        self.notify("initialized", {})

    def open(self, path: Path, text: str, language: str = "latex") -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language, "version": 1,
                                                              "text": text}})
        return uri

    def close(self) -> int | None:
        try:
            self.notify("exit", None)
            return self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.stdout.close()
            self.process.stderr.close()
            self.process.stdin.close()


def big_bib(path: Path, entries: int) -> Path:
    """A .bib of `entries` full entries (about 450 bytes each)."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(entries):
            out.write(f"@article{{key{n},\n  title = {{A study of thing number {n} in deep learning models}},\n"
                      f"  author = {{Smith, John and Doe, Jane and Müller, Anna}},\n  journal = {{Journal of Things}},\n"
                      f"  year = {{{2000 + n % 20}}},\n  abstract = {{{'Lorem ipsum dolor sit amet ' * 10}}}\n}}\n\n")
    return path
