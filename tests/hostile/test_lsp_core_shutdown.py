"""Shutdown while a bibliography is still being read answers `null`, not a pygls RuntimeError."""

from __future__ import annotations

from core_wire import WireClient, big_bib


def test_shutdown_while_a_bibliography_is_read_and_a_command_waits(tmp_path):
    big_bib(tmp_path / "refs.bib", 12_000)
    draft = tmp_path / "paper.tex"
    draft.write_text("\\documentclass{article}\\begin{document}\nText \\cite{key1}.\n\\bibliography{refs}\n\\end{document}\n")
    client = WireClient(tmp_path, tmp_path / "absent.sqlite")
    try:
        client.initialize()
        client.open(draft, draft.read_text())  # diagnostics read the 5 MB .bib on the features thread
        waiting = client.request("workspace/executeCommand", {"command": "citewise.status", "arguments": []})
        shutdown = client.request("shutdown")
        answer = client.reply_to(shutdown)
        assert answer.get("error") is None, answer["error"]["message"]
        assert answer["result"] is None
        assert waiting < shutdown
    finally:
        assert client.close() == 0
