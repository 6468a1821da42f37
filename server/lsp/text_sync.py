"""Open documents as lists of lines, so that an edit costs what it touches, not the document's size.

pygls keeps a document as one string and rebuilds it line by line on every incremental
change: about 0.3 s per keystroke in a 5 MB draft, on the protocol thread, during which the
server reads nothing from the client. `LineDocument` keeps the lines, splices an edit
into the few it touches, and joins the text only when someone reads `source` (once per
batch of edits: the features thread receives the text only before the next request).
An edit's UTF-16 columns become string indexes through `features.positions` (a plain index on
an ASCII line), not pygls' codec, which counts every character of the line in Python twice per
edit: a quarter of the protocol thread's time per completion in the language-server benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from citewise.server.features.positions import utf16_to_index


class LineDocument(TextDocument):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lines: list[str] | None = None

    @property
    def lines(self) -> Sequence[str]:
        if self._lines is None:
            self._lines = super().source.splitlines(True)
        return self._lines

    @property
    def source(self) -> str:
        if self._source is None and self._lines is not None:
            self._source = "".join(self._lines)
        return super().source

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self._lines = None
        super()._apply_full_change(change)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        """Splice the change into the lines it spans. Every line but the last keeps its line
        break: the text after the range ends with the break its line had (or ends the document)."""
        lines = self.lines
        assert isinstance(lines, list)
        if not lines:
            lines.extend(change.text.splitlines(True))
        else:
            start_line, start_col = _index(lines, change.range.start)
            end_line, end_col = _index(lines, change.range.end)
            before = lines[start_line][:start_col]
            after = lines[end_line][end_col:]
            lines[start_line:end_line + 1] = (before + change.text + after).splitlines(True)
        self._source = None


def _index(lines: list[str], position: types.Position) -> tuple[int, int]:
    """(line, string index) of an LSP position in `lines` (each with its line break): a column
    past a line's end is its end, before the break; a line past the last is the end of the text."""
    if position.line >= len(lines):
        return len(lines) - 1, len(lines[-1])
    line = lines[position.line]
    return position.line, utf16_to_index(line.rstrip("\r\n"), position.character)


class LineWorkspace(Workspace):
    """pygls' workspace, holding `LineDocument`s."""

    def _create_text_document(self, doc_uri: str, source: str | None = None, version: int | None = None,
                              language_id: str | None = None) -> TextDocument:
        return LineDocument(doc_uri, source=source, version=version, language_id=language_id,
                            sync_kind=self._sync_kind, position_codec=self._position_codec)
