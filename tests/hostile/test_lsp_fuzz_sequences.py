"""Fuzzing the language server over stdio: random sequences of open, change (random ranges, some
out of range), completion, hover, code action, command and close at random positions, against one
real `citewise serve` per test.

Properties: every request is answered (a result, or an error that is not an internal failure);
every range the server returns lies inside the document as the client holds it; every .bib edit
the server sends through workspace/applyEdit lies inside the file and leaves every entry that was
there byte for byte as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fuzz_support import FIXTURES, examples, syntax_text
from hypothesis import given, settings
from hypothesis import strategies as st
from lsp_support import LANGUAGE_IDS, build_index
from pygls.workspace import TextDocument
from stdio_client import StdioServer

from citewise.bib.bibtex.reader import scan_entries

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ["paper.tex", "notes.md", "refs.bib"]
INTERNAL_ERRORS = {-32603}


class Editor:
    """The client's copy of each open document (kept with pygls' own change logic, as the server keeps it)."""

    def __init__(self, server: StdioServer, root: Path) -> None:
        self.server, self.root = server, root
        self.open: dict[str, TextDocument] = {}
        self.versions: dict[str, int] = {}

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def do_open(self, name: str) -> None:
        if name in self.open:
            return
        text = (self.root / name).read_text(encoding="utf-8")
        self.open[name] = TextDocument(self.uri(name), text)
        self.versions[name] = 1
        self.server.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri(name), "languageId": LANGUAGE_IDS[Path(name).suffix], "version": 1, "text": text}})

    def do_change(self, name: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        from lsprotocol import types

        if name not in self.open:
            return
        start, end = sorted([start, end])
        change = {"range": {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}, "text": text}
        self.open[name].apply_change(types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text))
        self.versions[name] += 1
        self.server.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri(name), "version": self.versions[name]}, "contentChanges": [change]})

    def do_close(self, name: str) -> None:
        if self.open.pop(name, None) is not None:
            self.server.notify("textDocument/didClose", {"textDocument": {"uri": self.uri(name)}})

    def ask(self, method: str, name: str, position: tuple[int, int]) -> dict | list | None:
        params = {"textDocument": {"uri": self.uri(name)}, "position": {"line": position[0], "character": position[1]}}
        if method == "textDocument/codeAction":
            point = params.pop("position")
            params.update(range={"start": point, "end": point}, context={"diagnostics": []})
        answer = self.server.request(method, params, timeout=60)
        error = answer.get("error")
        assert error is None or error["code"] not in INTERNAL_ERRORS and "failed" not in error["message"], (method, error)
        result = answer.get("result")
        if name in self.open:
            for where, lsp_range in ranges_in(result, self.uri(name)):
                assert in_document(self.open[name], lsp_range), (method, where, lsp_range, self.open[name].source[-200:])
        return result

    def run_command(self, command: dict) -> None:
        answer = self.server.request("workspace/executeCommand", {"command": command["command"], "arguments": command.get("arguments", [])}, timeout=120)
        error = answer.get("error")
        assert error is None or error["code"] not in INTERNAL_ERRORS and "failed" not in error["message"], error


def ranges_in(result, uri: str):
    """(where, range) for each range in a result that refers to document `uri`."""
    if isinstance(result, list):
        for item in result:
            yield from ranges_in(item, uri)
        return
    if not isinstance(result, dict):
        return
    if "items" in result:
        yield from ranges_in(result["items"], uri)
    if isinstance(result.get("range"), dict):
        yield "range", result["range"]
    edit = result.get("textEdit")
    if edit:
        for key in ("range", "insert", "replace"):
            if key in edit:
                yield f"textEdit.{key}", edit[key]
    for extra in result.get("additionalTextEdits") or []:
        yield "additionalTextEdits", extra["range"]
    workspace_edit = result.get("edit") or {}
    for edit in (workspace_edit.get("changes") or {}).get(uri, []):
        yield "edit.changes", edit["range"]
    for change in workspace_edit.get("documentChanges") or []:
        if change.get("textDocument", {}).get("uri") == uri:
            for edit in change["edits"]:
                yield "edit.documentChanges", edit["range"]


def in_document(document: TextDocument, lsp_range: dict) -> bool:
    lines = document.lines or [""]
    for point in (lsp_range["start"], lsp_range["end"]):
        line, character = point["line"], point["character"]
        if line == len(lines) and character == 0:
            continue
        if not 0 <= line < len(lines):
            return False
        text = lines[line].rstrip("\r\n")
        if not 0 <= character <= len(text.encode("utf-16-le")) // 2:
            return False
    return (lsp_range["start"]["line"], lsp_range["start"]["character"]) <= (lsp_range["end"]["line"], lsp_range["end"]["character"])


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-workspace")
    shutil.copytree(FIXTURES / "lsp" / "latex", root, dirs_exist_ok=True)
    shutil.copy(FIXTURES / "lsp" / "markdown" / "notes.md", root / "notes.md")
    index = build_index(root.parent / "fuzz-index.sqlite", REPO / "examples" / "library.bib",
                        REPO / "examples" / "daily-papers-digest.txt", embed=False)
    server = StdioServer(root, index_path=index)
    server.on_apply_edit = lambda params: check_and_apply_bib_edit(params["edit"])
    server.initialize({"debounceMs": 0})
    editor = Editor(server, root)
    yield editor
    print(f"fuzz session: {len(server.applied_edits)} workspace edits applied")
    assert server.close() == 0
    assert b"Traceback" not in server.stderr, server.stderr.decode(errors="replace")[-3000:]


def check_and_apply_bib_edit(edit: dict) -> None:
    """The editor side of workspace/applyEdit for .bib files: check the edit, then write it."""
    from lsp_support import apply_workspace_edit, uri_to_path
    from lsprotocol import types
    from pygls.protocol import default_converter

    structured = default_converter().structure(edit, types.WorkspaceEdit)
    bibs = {}
    for change in structured.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri.endswith(".bib"):
            path = Path(uri_to_path(change.text_document.uri))
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            document = TextDocument(change.text_document.uri, text)
            for text_edit in change.edits:
                assert in_document(document, {"start": {"line": text_edit.range.start.line, "character": text_edit.range.start.character},
                                              "end": {"line": text_edit.range.end.line, "character": text_edit.range.end.character}}), text_edit
            bibs[path] = [entry.raw for entry in scan_entries(text)]
    apply_workspace_edit(structured)
    for path, before in bibs.items():
        after = [entry.raw for entry in scan_entries(path.read_text(encoding="utf-8"))]
        kept = iter(after)
        assert all(raw in kept for raw in before), f"an entry of {path.name} was changed or lost"


action = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(DOCUMENTS)),
    st.tuples(st.just("close"), st.sampled_from(DOCUMENTS)),
    st.tuples(st.just("change"), st.sampled_from(DOCUMENTS), st.tuples(st.integers(0, 16), st.integers(0, 130)),
              st.tuples(st.integers(0, 16), st.integers(0, 130)), st.one_of(syntax_text, st.sampled_from(
                  ["\\cite{", "\\citep[p.~3]{vasw", "[@", "[see @song", ", ", "attention", "@article{x,\n}\n", "\n\n"]))),
    st.tuples(st.sampled_from(["textDocument/completion", "textDocument/hover", "textDocument/codeAction"]),
              st.sampled_from(DOCUMENTS), st.tuples(st.integers(0, 16), st.integers(0, 130)), st.booleans()),
)


@settings(max_examples=examples(8))
@given(steps=st.lists(action, min_size=1, max_size=15))
def test_random_editing_sessions(editor, steps):
    try:
        for step in steps:
            kind, name = step[0], step[1]
            if kind == "open":
                editor.do_open(name)
            elif kind == "close":
                editor.do_close(name)
            elif kind == "change":
                editor.do_change(name, step[2], step[3], step[4])
            else:
                result = editor.ask(kind, name, step[2])
                if kind == "textDocument/codeAction" and step[3]:
                    for item in result or []:
                        command = item.get("command")
                        if isinstance(command, dict) and command.get("command", "").startswith("citewise."):
                            editor.run_command(command)
                            break
        assert "settings" in editor.server.status(timeout=60)["result"]
        assert not editor.server.edit_failures, editor.server.edit_failures
    finally:
        for name in list(editor.open):
            editor.do_close(name)


def test_emptying_a_draft_pushes_suggestions_without_a_sentence(editor):
    """Found by the fuzzer: with no sentence at the cursor the notification's range was None and the push crashed."""
    import time

    editor.do_open("paper.tex")
    try:
        lines = editor.open["paper.tex"].lines
        editor.do_change("paper.tex", (0, 0), (len(lines), 0), "")
        deadline = time.monotonic() + 30
        while not any(n["method"] == "citewise/suggestions" and n["params"]["uri"] == editor.uri("paper.tex")
                      and n["params"]["range"] is None for n in list(editor.server.notifications)):
            assert time.monotonic() < deadline, "no citewise/suggestions for the emptied draft"
            time.sleep(0.05)
    finally:
        editor.do_close("paper.tex")
    assert b"Traceback" not in editor.server.stderr
