"""The LSP base protocol on stdio, read so that no malformed frame can wedge or kill the server.

pygls 2 reads a header line by line and then exactly `Content-Length` bytes. A length that
is not a number or negative is ignored, so the next message is swallowed into a header
line; a length beyond the real body makes the read wait for bytes the client never sends
(every later request goes unanswered); `Content-Length: 10^20` raises OverflowError and
ends the process. `FrameReader` replaces that loop. Its policy:

- a header block is at most MAX_HEADER_BYTES and must carry a decimal `Content-Length` of
  at most MAX_CONTENT_LENGTH; a block that breaks either rule is dropped and reported;
- bytes that are not a header (the body of a dropped block, noise) are skipped up to the
  next `Content-Length:` and reported;
- a body that holds a complete `Content-Length: N\\r\\n` line was declared longer than it
  is: raw CR/LF cannot occur inside a JSON text's strings and `Content-Length` is no JSON
  token, so that line starts the next message. The body ends there and reading goes on
  from it, as soon as the line arrives, without waiting for the declared length;
- a body that is not JSON is reported, and reading resumes at a `Content-Length:` inside
  it, if there is one.

Every problem is logged to stderr and sent to the client as a window/logMessage; the
server keeps answering. A stdin thread only reads; messages are handled on the event loop
as pygls does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO

from lsprotocol import types
from pygls.protocol import JsonRPCProtocol

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8 * 1024
MAX_CONTENT_LENGTH = 64 * 1024 * 1024
READ_CHUNK = 64 * 1024

HEADER_NAME = b"Content-Length:"
HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*")
# A complete Content-Length line, which no JSON text can contain.
NEXT_FRAME = re.compile(rb"Content-Length:[ \t]*\d{1,20}\r\n")
NEXT_FRAME_MAX = len(b"Content-Length:") + 40


class FrameReader:
    """Splits the bytes a client sends into message bodies; `feed` bytes, then take `next_body()` until None."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._buffer = bytearray()
        self._length: int | None = None  # the current frame's declared body length, once its header is read
        self._scanned = 0  # body bytes already searched for a next frame's header
        self._skipping = False  # inside a run of skipped bytes (reported once per run)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_body(self) -> bytes | None:
        """The next complete message body, or None until more bytes arrive."""
        if self._length is None and not self._read_header():
            return None
        length, buffer = self._length, self._buffer
        assert length is not None  # set by _read_header
        found = NEXT_FRAME.search(buffer, max(0, self._scanned - NEXT_FRAME_MAX), min(len(buffer), length + NEXT_FRAME_MAX))
        if found is not None and found.start() < length:
            end = found.start()
            self._report(f"a message declared {length} bytes but the next message starts after {end}; reading on from there")
        elif len(buffer) >= length:
            end = length
        else:
            self._scanned = len(buffer)
            return None
        body = bytes(buffer[:end])
        del buffer[:end]
        self._length, self._scanned = None, 0
        return body

    def reject(self, body: bytes) -> None:
        """`body` was not JSON: read on from a header inside it, if there is one."""
        start = body.find(HEADER_NAME, 1)
        if start >= 0:
            self._buffer[0:0] = body[start:]

    def _read_header(self) -> bool:
        """Consume one valid header block and set `_length`; False while it is incomplete."""
        buffer = self._buffer
        while True:
            blank = len(buffer) - len(buffer.lstrip(b"\r\n"))
            del buffer[:blank]
            end = buffer.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES + 4)
            if end < 0:
                if len(buffer) <= MAX_HEADER_BYTES:
                    return False
                if buffer.startswith(HEADER_NAME):
                    self._report(f"a message header is longer than {MAX_HEADER_BYTES} bytes; skipping it")
                if not self._skip_to_header():
                    return False
                continue
            length, problem = content_length(bytes(buffer[:end]))
            if problem is None:
                del buffer[: end + 4]
                self._length, self._skipping = length, False
                return True
            if problem:
                self._report(f"{problem}; skipping that message")
                del buffer[: end + 4]
            elif not self._skip_to_header():
                return False

    def _skip_to_header(self) -> bool:
        """Drop bytes up to the next `Content-Length:` after the first; False if none has arrived."""
        buffer = self._buffer
        start = buffer.find(HEADER_NAME, 1)
        dropped = start if start >= 0 else max(0, len(buffer) - len(HEADER_NAME) + 1)
        if dropped and not self._skipping:
            self._report("skipping bytes that are not an LSP message, up to the next Content-Length header")
        self._skipping = True
        del buffer[:dropped]
        return start >= 0


def content_length(block: bytes) -> tuple[int, str | None]:
    """The Content-Length of a header block, else why not: "" when the block is no header at all."""
    value = None
    for line in block.split(b"\r\n"):
        match = HEADER_LINE.fullmatch(line)
        if match is None:
            return 0, ""
        if match.group(1).lower() == b"content-length" and value is None:
            value = match.group(2)
    if value is None:
        return 0, "a message header has no Content-Length"
    shown = value[:40].decode("ascii", "replace")
    if not value.isdigit():
        return 0, f"Content-Length {shown!r} is not a byte count"
    if len(value) > 12 or int(value) > MAX_CONTENT_LENGTH:
        return 0, f"Content-Length {shown} exceeds the limit of {MAX_CONTENT_LENGTH} bytes"
    return int(value), None


def handle_body(protocol: JsonRPCProtocol, frames: FrameReader, body: bytes, report: Callable[[str], None]) -> None:
    """Decode one body and hand the message to pygls; what cannot be handled is reported, not raised."""
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        report(f"a message of {len(body)} bytes is not JSON ({error}); skipping it")
        frames.reject(body)
        return
    except Exception as error:
        report(f"cannot read a message: {_one_line(error)}")
        return
    if not hasattr(message, "jsonrpc"):
        report("a message is not a JSON-RPC object; skipping it")
        return
    try:
        protocol.handle_message(message)
    except Exception as error:
        logger.debug("handling a message failed", exc_info=True)
        report(f"cannot handle a message: {_one_line(error)}")


async def read_messages(protocol: JsonRPCProtocol, receive: Callable[[], Awaitable[bytes]], stop: threading.Event) -> None:
    """Read chunks from `receive()` until it gives b"" (end of input) or `stop`, handing each message to `protocol`."""

    def report(problem: str) -> None:
        logger.warning("%s", problem)
        protocol.notify(types.WINDOW_LOG_MESSAGE,
                        types.LogMessageParams(type=types.MessageType.Warning, message=f"citewise: {problem}"))

    logging.getLogger("pygls.protocol.json_rpc").addFilter(_without_deserializing_tracebacks)
    frames = FrameReader(report)
    while not stop.is_set():
        chunk = await receive()
        if not chunk:
            break
        frames.feed(chunk)
        while not stop.is_set() and (body := frames.next_body()) is not None:
            handle_body(protocol, frames, body, report)


async def read_stdin(protocol: JsonRPCProtocol, stdin: BinaryIO, stop: threading.Event) -> None:
    """`read_messages` from stdin: a daemon thread reads (blocking), the loop awaits its chunks."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    threading.Thread(target=_pump, args=(stdin, loop, chunks), name="citewise-stdin", daemon=True).start()
    await read_messages(protocol, chunks.get, stop)


def _pump(stdin: BinaryIO, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes]) -> None:
    """The stdin thread: pass each chunk read to the loop; b"" at end of file."""
    read = getattr(stdin, "read1", stdin.read)
    chunk = b""
    try:
        while chunk := read(READ_CHUNK):
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
    except (OSError, ValueError) as error:
        logger.warning("reading from the client failed: %s", error)
    finally:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server is leaving anyway
            loop.call_soon_threadsafe(chunks.put_nowait, b"")


def _without_deserializing_tracebacks(record: logging.LogRecord) -> bool:
    """pygls logs a message it cannot structure with a traceback; `handle_body` reports it in one line."""
    return not str(record.msg).startswith("Unable to deserialize message") or logger.isEnabledFor(logging.DEBUG)


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}"

