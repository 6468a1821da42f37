r"""The user's files: which ones citewise reads, how it decodes them, how it writes them.

Every path that comes from a person or a draft (command-line arguments, `\bibliography`,
`\input`, `-o`, `index add`, the language server's .bib reads) is read and written here.

Reading (`read_bytes`, `read_text`, `open_regular`):
- Only regular files are read. A file is opened without blocking and its type checked on
  the open descriptor before any byte is read, so a FIFO, a device (`/dev/zero`), a socket
  or a directory gets one line (`path: not a regular file (a FIFO)`) and never hangs.
- At most `MAX_READ_BYTES` (256 MB) are read; a larger file is refused. Files read line by
  line (arXiv JSON Lines, the input of `index vectors`: `open_regular(limit=None)`) have no
  limit, and neither has `zotero.sqlite`, which SQLite reads.

Decoding (`decode`), one policy for drafts, .bib files and every format read whole (a file
read line by line decodes each line as its format says: JSON Lines is UTF-8):
1. a byte-order mark: UTF-8, UTF-16 LE or BE;
2. else UTF-8;
3. else the encoding the file declares in its first 4 KB: `% !TeX encoding = …` (TeXShop,
   TeXstudio), JabRef's `% Encoding: …` header, LaTeX's `\usepackage[…]{inputenc}`;
4. else Windows-1252 (bytes it leaves undefined read as Latin-1), with `Decoded.fallback`
   set so the caller can warn.
Binary data (NUL bytes and more than 10 % control characters in the first 64 KB, without a
UTF-16 byte-order mark) is refused.
Text that is no file, a query on the command line or on stdin (`citewise search`), has no
byte-order mark or declaration to go by: it is read as UTF-8, bytes that are not becoming U+FFFD
(`server/cli/search_cmd.py`).

Writing (`write_atomically`): a temporary file in the target's own directory, renamed over
it. A symlink is followed, so the link stays a link and its target gets the new content;
only a regular file (or nothing) is ever replaced.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from citewise.bib.errors import SourceError

MAX_READ_BYTES = 256 * 1024 * 1024
"""The largest file citewise reads (drafts, .bib files, reader input)."""

NO_SUCH_FILE = "no such file"
BINARY_SAMPLE_BYTES = 65536
DECLARATION_BYTES = 4096

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_DECLARED = re.compile(
    rb"^%\s*!\s*TeX\s+encoding\s*=\s*([\w.:-]+)"
    rb"|^%\s?Encoding:\s*([\w.:-]+)"
    rb"|\\usepackage\s*\[([\w.,\s-]+)\]\s*\{inputenc\}",
    re.IGNORECASE | re.MULTILINE,
)
_INPUTENC_NAMES = {"ansinew": "cp1252", "applemac": "mac_roman", "utf8x": "utf-8", "latin9": "iso8859-15"}
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


@dataclass(frozen=True)
class Decoded:
    """A file's text and how it was decoded; `fallback` when Windows-1252 was a guess."""

    text: str
    encoding: str
    bom: bytes = b""
    fallback: bool = False


def _kind(mode: int) -> str:
    return next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")


def _cannot_read(path: str, error: OSError) -> SourceError:
    if error.errno == errno.ENOENT:
        return SourceError(path, None, "broken symlink" if os.path.islink(path) else NO_SUCH_FILE)
    if error.errno == errno.ELOOP:
        return SourceError(path, None, "symlink loop")
    if error.errno == errno.ENAMETOOLONG:
        return SourceError(path[:120] + "…", None, "not a usable file name (too long)")
    if error.errno == errno.EISDIR:
        return SourceError(path, None, "not a regular file (a directory)")
    return SourceError(path, None, f"cannot read: {error.strerror or error}")


@contextmanager
def open_regular(path: str | os.PathLike, limit: int | None = MAX_READ_BYTES) -> Iterator[BinaryIO]:
    """A binary stream on `path` once it is known to be a regular file of at most `limit` bytes
    (any size with `limit=None`: for databases, read by SQLite).

    Raises SourceError (one line naming the file) otherwise or when it cannot be opened."""
    name = str(path)
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as error:
        if isinstance(error, ValueError):
            raise SourceError(name[:120], None, "not a usable file name") from None
        raise _cannot_read(name, error) from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(name, None, f"not a regular file ({_kind(info.st_mode)})")
        if limit is not None and info.st_size > limit:
            raise SourceError(name, None, f"{info.st_size / 2**20:.0f} MB is more than the {limit // 2**20} MB citewise reads")
        os.set_blocking(descriptor, True)
        stream = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with stream:
        yield stream


def read_bytes(path: str | os.PathLike, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see `open_regular`)."""
    with open_regular(path, limit) as stream:
        try:
            data = stream.read(limit + 1)
        except OSError as error:
            raise _cannot_read(str(path), error) from None
    if len(data) > limit:
        raise SourceError(str(path), None, f"more than the {limit // 2**20} MB citewise reads")
    return data


def read_text(path: str | os.PathLike, what: str = "a text file", limit: int = MAX_READ_BYTES) -> Decoded:
    """A regular file's text, decoded by the one policy (see the module docstring).

    `what` names what the file should have been in the binary-data message."""
    return decode(read_bytes(path, limit), str(path), what)


def decode(data: bytes, path: str = "", what: str = "a text file") -> Decoded:
    """Bytes to text by the one policy; raises SourceError for binary data."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom):].decode(codec, errors="replace"), codec, bom)
    if looks_binary(data):
        raise SourceError(path, None, f"binary data, not {what}")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    declared = declared_encoding(data)
    if declared:
        try:
            return Decoded(data.decode(declared), declared)
        except UnicodeDecodeError:
            pass
    return Decoded(data.decode("cp1252", errors="latin1_for_undefined"), "cp1252", fallback=True)


def declared_encoding(data: bytes) -> str | None:
    """The codec a file's first 4 KB declare (TeX magic comment, JabRef header, inputenc)."""
    for match in _DECLARED.finditer(data[:DECLARATION_BYTES]):
        names = (match.group(1) or match.group(2) or match.group(3)).decode("ascii", "replace")
        for name in reversed(names.split(",")):
            name = _INPUTENC_NAMES.get(name.strip().lower(), name.strip())
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return None


def looks_binary(data: bytes) -> bool:
    """NUL bytes and more than 10 % control characters (tab, line breaks, form feed aside) in the first 64 KB."""
    sample = data[:BINARY_SAMPLE_BYTES]
    if b"\0" not in sample:
        return False
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13))
    return controls >= 16 and controls > len(sample) // 10


def _latin1_for_undefined(error: UnicodeDecodeError) -> tuple[str, int]:
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("latin1_for_undefined", _latin1_for_undefined)


def resolve_output(path: str | os.PathLike) -> Path:
    """The file a write to `path` lands in: a symlink's final target. Raises SourceError on a loop."""
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        return Path(os.path.realpath(path))
    except OSError as error:
        raise _cannot_read(str(path), error) from None


def existing_head(path: Path, size: int = DECLARATION_BYTES) -> bytes | None:
    """The first bytes of the regular file a write would replace; None when there is none.

    Raises SourceError when something other than a regular file is there."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _cannot_read(str(path), error) from None
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(str(path), None, f"not a regular file ({_kind(info.st_mode)}); citewise writes only regular files")
    with open_regular(path, limit=max(info.st_size, size)) as stream:
        return stream.read(size)


def write_atomically(path: str | os.PathLike, text: str, encoding: str | None = None) -> None:
    """Write `text` to a temporary file beside the target, then rename it into place.

    A symlink is followed: its target is replaced and the link kept. An existing file keeps
    its encoding and byte-order mark (and its permissions) unless `encoding` is given; a new
    file is UTF-8. Only a regular file (or nothing) is replaced: anything else raises
    SourceError before a byte is read or written.
    """
    target = resolve_output(path)
    head = existing_head(target)
    bom = b""
    if encoding is None and head is not None:
        existing = decode(read_bytes(target), str(target))
        encoding, bom = existing.encoding, existing.bom
    try:
        data = bom + text.encode(encoding or "utf-8")
    except UnicodeEncodeError as error:
        raise SourceError(str(target), None, f"cannot write {text[error.start:error.end]!r} in the file's encoding {encoding}") from None
    mode = os.stat(target).st_mode & 0o7777 if head is not None else None
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
