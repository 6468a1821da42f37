"""Broken LSP frames on stdin: a real `citewise serve` reports each one and keeps answering.

Each probe initializes a server, sends one malformed frame as raw bytes, then a well-formed
request: that request must be answered (a bounded wait, no timing assert), the problem must
reach the client as a window/logMessage, and the server must leave cleanly, with exit code 0
and no traceback, on shutdown + exit.
"""

from __future__ import annotations

import json

import pytest
from stdio_client import StdioServer, frame

from citewise.server.lsp.transport import MAX_CONTENT_LENGTH, MAX_HEADER_BYTES, FrameReader

STATUS = {"command": "citewise.status", "arguments": []}
BODY = json.dumps({"jsonrpc": "2.0", "id": 900, "method": "workspace/executeCommand", "params": STATUS}).encode()

PROBES = {
    "length not a number": b"Content-Length: abc\r\n\r\n" + BODY,
    "negative length": b"Content-Length: -5\r\n\r\n" + BODY,
    "length 500 bytes past the body": b"Content-Length: %d\r\n\r\n" % (len(BODY) + 500) + BODY,
    "length 10^20": b"Content-Length: 100000000000000000000\r\n\r\n" + BODY,
    "length past the limit": b"Content-Length: %d\r\n\r\n" % (MAX_CONTENT_LENGTH + 1) + BODY,
    "length shorter than the body": b"Content-Length: 20\r\n\r\n" + BODY,
    "no Content-Length": b"Content-Type: application/json\r\n\r\n" + BODY,
    "noise before a frame": b"\x00\xff garbage {]\r\n\r\n",
    "header past the limit": b"Content-Length: 1\r\nX-Pad: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n\r\n{",
    "body not JSON": frame(b"{not json at all"),
    "body not UTF-8": frame(b'{"jsonrpc": "2.0", "method": "\xff\xfe"}'),
    "JSON that is not an object": frame(b"[1, 2, 3]"),
    "object that is not JSON-RPC": frame(b'{"hello": "world"}'),
    "notification with wrong params": frame(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": 5}'),
}


# Probes whose frames are sound: the message inside is what is wrong (see handle_body).
FRAMED_WELL = {"JSON that is not an object", "object that is not JSON-RPC", "notification with wrong params", "body not UTF-8"}


@pytest.fixture
def server(tmp_path):
    (tmp_path / "draft.tex").write_text("\\cite{a}\n", encoding="utf-8")
    server = StdioServer(tmp_path, index_path=tmp_path / "index.sqlite")
    assert "capabilities" in server.initialize()["result"]
    assert "settings" in server.status()["result"]
    yield server
    server.kill()


def test_after_each_broken_frame_the_next_request_is_answered(server):
    """One server takes every probe in turn (a server per probe would cost seconds each)."""
    for name, probe in PROBES.items():
        reported = len(server.log_messages())
        server.send_raw(probe)
        answer = server.status(timeout=30)
        assert answer["result"]["settings"], (name, answer)
        assert len(server.log_messages()) > reported, f"{name}: no window/logMessage"
        assert server.log_messages()[-1].startswith("citewise: "), name
    assert server.close() == 0
    assert b"Traceback" not in server.stderr, server.stderr.decode(errors="replace")


@pytest.mark.parametrize("probe", ["length not a number", "length 500 bytes past the body", "length 10^20"])
def test_the_server_leaves_cleanly_after_a_broken_frame(server, probe):
    server.send_raw(PROBES[probe])
    assert server.status(timeout=30)["result"]["settings"]
    assert server.close() == 0
    assert b"Traceback" not in server.stderr, server.stderr.decode(errors="replace")


def test_a_frame_declared_too_long_is_still_answered_when_the_next_frame_arrives(server):
    """The body itself is valid JSON: it is handled as soon as the next header shows where it ended."""
    long_frame = b"Content-Length: %d\r\n\r\n" % (len(BODY) + 500) + BODY
    request_id, message = server.request_message("workspace/executeCommand", STATUS)
    server.send_raw(long_frame + frame(message))
    assert server.response(900)["result"]["settings"]
    assert server.response(request_id)["result"]["settings"]


def test_frames_split_into_single_bytes_are_read_whole(server):
    request_id, message = server.request_message("workspace/executeCommand", STATUS)
    for byte in frame(message):
        server.send_raw(bytes([byte]))
    assert server.response(request_id)["result"]["settings"]
    assert server.log_messages() == []


def test_end_of_input_inside_a_frame_ends_the_server_cleanly(server):
    server.send_raw(b"Content-Length: 5000\r\n\r\n{\"jsonrpc\"")
    server.process.stdin.close()
    assert server.process.wait(timeout=20) == 0
    assert b"Traceback" not in server.stderr


# --- the frame reader alone --------------------------------------------------------------


def read_all(data: bytes, chunk: int) -> tuple[list[bytes], list[str]]:
    problems: list[str] = []
    reader = FrameReader(problems.append)
    bodies = []
    for start in range(0, len(data), chunk):
        reader.feed(data[start:start + chunk])
        while (body := reader.next_body()) is not None:
            bodies.append(body)
            try:
                json.loads(body)
            except ValueError:
                problems.append("not JSON")
                reader.reject(body)
    return bodies, problems


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_good_frames_pass_unchanged_in_any_chunking(chunk):
    bodies = [json.dumps({"n": n, "text": "Content-Length: 5 \\r\\n inside a string"}).encode() for n in range(20)]
    data = b"".join(b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n%s" % (len(b), b) for b in bodies)
    assert read_all(data, chunk) == (bodies, [])


@pytest.mark.parametrize("chunk", [1, 13, 4096])
def test_every_good_frame_after_a_broken_one_is_read(chunk):
    good = [json.dumps({"n": n}).encode() for n in range(3)]
    for name, probe in PROBES.items():
        data = frame(good[0]) + probe + frame(good[1]) + frame(good[2])
        bodies, problems = read_all(data, chunk)
        assert bodies[0] == good[0] and bodies[-2:] == good[1:], (name, bodies)
        assert problems or name in FRAMED_WELL, name


def test_over_tcp_a_broken_frame_is_skipped_and_the_next_request_answered(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "citewise", "serve", "--tcp", f"127.0.0.1:{port}"],
                              stderr=subprocess.PIPE, env=dict(__import__("os").environ, CITEWISE_INDEX=str(tmp_path / "i.sqlite")))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}}
        with connection, connection.makefile("rwb") as stream:
            stream.write(PROBES["length 10^20"] + PROBES["length not a number"] + frame(initialize))
            stream.flush()
            replies = []
            while not any(reply.get("id") == 1 for reply in replies):
                length = None
                while (line := stream.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                assert length is not None, "the server closed the connection"
                replies.append(json.loads(stream.read(length)))
        assert next(reply for reply in replies if reply.get("id") == 1)["result"]["serverInfo"]["name"] == "citewise"
        assert [reply["params"]["message"] for reply in replies if reply.get("method") == "window/logMessage"][:1]
    finally:
        server.kill()
        server.wait(timeout=20)
    assert b"Traceback" not in server.stderr.read()
