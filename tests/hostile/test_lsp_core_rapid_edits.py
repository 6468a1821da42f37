"""500 rapid edits to a 5 MB draft: the server keeps reading, and only the latest text is processed."""

from __future__ import annotations

from core_wire import WireClient

FILLER = "Transformers replaced recurrence with attention in many sequence models of language.\n"


def test_a_burst_of_edits_is_coalesced_and_completion_sees_the_last_one(tmp_path):
    (tmp_path / "refs.bib").write_text("@article{vaswani2017,\n  title = {Attention Is All You Need},\n"
                                       "  author = {Vaswani, Ashish},\n  year = {2017}\n}\n")
    text = "\\documentclass{article}\n\\begin{document}\n" + FILLER * (5_000_000 // len(FILLER))
    text += "\\bibliography{refs}\n\\end{document}\n"
    draft = tmp_path / "paper.tex"
    draft.write_text(text)
    line = text.count("\n") - 2  # the line of \bibliography: typing goes at its start
    client = WireClient(tmp_path, tmp_path / "absent.sqlite")
    try:
        client.initialize()
        uri = client.open(draft, text)
        typed = ("As shown before " * 40)[:489] + "\\cite{vasw"
        assert len(typed) == 499
        for version, char in enumerate(typed, start=2):
            column = version - 2
            client.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                              "end": {"line": line, "character": column}}, "text": char}]})
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": 501},
            "contentChanges": [{"range": {"start": {"line": line, "character": 499},
                                          "end": {"line": line, "character": 499}}, "text": "}\n"}]})
        answer = client.reply_to(client.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": 499}}))
        labels = [item["label"] for item in answer["result"]["items"]]
        assert labels[:1] == ["vaswani2017"]
        status = client.reply_to(client.request("workspace/executeCommand",
                                                {"command": "citewise.status", "arguments": []}))["result"]
        # didOpen, then one text per features call that followed edits: never one per edit.
        assert status.get("textsReceived") is not None and status["textsReceived"] < 20
    finally:
        client.reply_to(client.request("shutdown"))
        client.close()
