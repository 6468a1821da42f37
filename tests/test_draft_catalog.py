"""The draft a keystroke's suggestions read (`Workspace.draft_for`): walked once, then kept while
the author types prose, walked again when the open text's structure or another file changes."""

from __future__ import annotations

import os

from citewise.server.features.workspace import Workspace, path_to_uri

MAIN = r"""\documentclass{article}
\begin{document}
Intro prose \cite{mainKey}.
\input{sections/method}
\bibliography{refs}
\end{document}
"""


def _project(tmp_path):
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "method.tex").write_text("Method \\cite{methodKey}.\n", encoding="utf-8")
    (tmp_path / "sections" / "extra.tex").write_text("Extra \\cite{extraKey}.\n", encoding="utf-8")
    (tmp_path / "refs.bib").write_text("", encoding="utf-8")
    (tmp_path / "main.tex").write_text(MAIN, encoding="utf-8")
    ws = Workspace([str(tmp_path)])
    path = str(tmp_path / "main.tex")
    ws.open_document(path_to_uri(path), MAIN, 1)
    return ws, path


def _keys(ws, path):
    return {use.key for citation in ws.draft_for(path_to_uri(path)).citations for use in citation.keys}


def test_typing_prose_reuses_the_walk_and_the_open_text_gives_its_own_citations(tmp_path):
    ws, path = _project(tmp_path)
    assert _keys(ws, path) == {"mainKey", "methodKey"}
    walked = ws.drafts.project_around(path)
    typed = MAIN.replace("Intro prose \\cite{mainKey}.", "Intro prose \\cite{mainKey}. More words \\cite{typedKey}.")
    ws.update_document(path_to_uri(path), typed, 2)
    assert ws.drafts.project_around(path) is walked
    assert _keys(ws, path) == {"mainKey", "typedKey", "methodKey"}
    assert ws.draft_for(path_to_uri(path)).files == walked.files


def test_a_new_include_in_the_open_text_or_a_changed_file_walks_again(tmp_path):
    ws, path = _project(tmp_path)
    assert _keys(ws, path) == {"mainKey", "methodKey"}
    ws.update_document(path_to_uri(path), MAIN.replace("\\input{sections/method}",
                                                       "\\input{sections/method}\n\\input{sections/extra}"), 2)
    assert _keys(ws, path) == {"mainKey", "methodKey", "extraKey"}
    method = tmp_path / "sections" / "method.tex"
    method.write_text("Method \\cite{methodKey, laterKey}.\n", encoding="utf-8")
    os.utime(method, ns=(1, 1))  # a different stamp even on a coarse clock
    assert _keys(ws, path) == {"mainKey", "methodKey", "laterKey", "extraKey"}


def test_a_new_cite_macro_in_the_open_text_walks_again(tmp_path):
    ws, path = _project(tmp_path)
    (tmp_path / "sections" / "method.tex").write_text("Method \\mycite{macroKey}.\n", encoding="utf-8")
    assert _keys(ws, path) == {"mainKey"}
    defined = MAIN.replace("\\begin{document}", "\\newcommand{\\mycite}[1]{\\cite{#1}}\n\\begin{document}")
    ws.update_document(path_to_uri(path), defined, 2)
    assert _keys(ws, path) == {"mainKey", "macroKey"}
