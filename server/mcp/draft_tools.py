"""The MCP tools about one draft: suggest papers for a passage, cite keys, its bibliography.

Suggestions are the editor's (`features.suggestions.suggestions_at`: same query, ranking,
.bib matching and reasons); citing is `features.citing` (the editor's citation syntax and
.bib placement, written to disk). Lines and columns are 1-based, columns in characters.
"""

from __future__ import annotations

from dataclasses import asdict

from citewise.bib.errors import CitewiseError
from citewise.server.features.positions import Pos
from citewise.server.features.workspace import Document
from citewise.server.mcp.library_tools import shorten
from citewise.server.mcp.session import Session

SENTENCE_CHARS = 300
DETAIL_CHARS = 200


def suggest_citations(session: Session, draft_path: str, text: str | None, line: int | None, k: int) -> dict:
    """Papers for the passage `text` (placed at its spot in the draft, else at the draft's end)
    or for the sentence ending line `line`, best first."""
    from citewise.server.features.suggestions import suggestions_at

    if (text is None) == (line is None):
        raise CitewiseError("give exactly one of text (a passage) or line (a line of the draft)")
    document = session.draft(draft_path)
    document, pos = _with_passage(document, text) if text is not None else (document, _line_end(document, line))
    session.searcher()  # the model, so that the ranking is the editor's
    sentence, suggestions = suggestions_at(session.ws, document, pos, count=k)
    items = [{name: value for name, value in asdict(s.item).items() if value not in ("", None)} for s in suggestions]
    return {"sentence": shorten(sentence.text.strip(), SENTENCE_CHARS) if sentence else "", "suggestions": items}


def _line_end(document: Document, line: int) -> Pos:
    lines = document.lines
    if not 1 <= line <= lines.line_count:
        raise CitewiseError(f"{document.path}: line {line} is outside the draft (1-{lines.line_count})")
    text = lines.line_text(line - 1)
    return lines.lsp_pos(line - 1, len(text.rstrip()))


def _with_passage(document: Document, passage: str) -> tuple[Document, Pos]:
    """The draft with `passage` in it and the position just after it: where it already
    stands, else as a new paragraph at the end of the body."""
    passage = passage.strip()
    if len(passage) < 3:
        raise CitewiseError("text is too short to suggest papers for")
    found = document.text.find(passage)
    if found >= 0:
        return document, document.lines.position_of(found + len(passage))
    at = document.text.rfind("\\end{document}") if document.language == "latex" else -1
    at = len(document.text) if at < 0 else at
    inserted = "\n\n" + passage + "\n\n"
    text = document.text[:at] + inserted + document.text[at:]
    with_passage = Document(document.uri, document.path, text, document.language)
    return with_passage, with_passage.lines.position_of(at + len(inserted.rstrip()))


def cite(session: Session, draft_path: str, keys: list[str], line: int | None, column: int | None) -> dict:
    """The citation of `keys` in the draft's syntax; the .bib gains the entries it lacks."""
    from citewise.server.features.citing import plan_citation, write_bib

    if column is not None and line is None:
        raise CitewiseError("column needs a line")
    document = session.draft(draft_path)
    pos = None
    if line is not None:
        if not 1 <= line <= document.lines.line_count:
            raise CitewiseError(f"{draft_path}: line {line} is outside the draft (1-{document.lines.line_count})")
        pos = document.lines.lsp_pos(line - 1, (column or 1) - 1)
    plan = plan_citation(session.ws, document, keys, pos)
    session.roots.check([plan.bib_path], "the .bib to write is")
    write_bib(plan)
    if plan.bib_after is not None:
        session.ws.reload_bib(plan.bib_path, wait=False)
    result = {"citation": plan.citation, "bib": session.roots.shown(plan.bib_path),
              "added": plan.added, "already_in_bib": plan.present}
    if plan.position is not None:
        at_line, at_column = document.lines.char_col(plan.position)
        result["insert_at"] = {"line": at_line + 1, "column": at_column + 1}
    if plan.declaration is not None:
        result["declare_bibliography"] = {"line": plan.declaration[0] + 1, "text": plan.declaration[1]}
    return result


def bibliography(session: Session, draft_path: str) -> str:
    """The BibTeX the draft cites (`citewise bib DRAFT`), without writing anything."""
    from citewise.server.drafts.bibgen import generate_bib

    document = session.draft(draft_path)
    draft = session.ws.draft_for(document.uri)
    return generate_bib([draft], (), session.ws.index).text


def verify_references(session: Session, path: str, offset: int, limit: int) -> dict:
    """`citewise verify` on a draft (the entries it cites, and `--fit`'s weak-fit citations) or a
    .bib file (every entry), problems first. Registries are asked only when the server runs --online."""
    from citewise.bib.registries.lookup import Registries
    from citewise.bib.registries.verify import PROBLEMS
    from citewise.server.features.verify import library_lookup, verify_paths

    real = session.roots.existing_file(path)
    is_draft = real.suffix.lower() != ".bib"
    if is_draft:
        session.draft(path)  # its includes and .bib files inside the roots too
    errors: list[str] = []
    with Registries.open(offline=not session.online) as registries:
        findings = verify_paths([real], registries=registries, known=library_lookup(session.ws.index_path), errors=errors)
    if is_draft:
        from citewise.server.features.cite_check import fit_findings

        session.searcher()  # the suggestion model, which cite-check scores with
        if session.ws.embedder is not None:
            findings += fit_findings([real], session.ws.embedder, errors)
    findings.sort(key=lambda finding: finding.status not in PROBLEMS)
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.status] = counts.get(finding.status, 0) + 1
    page = [{"key": f.key, "status": f.status, "detail": shorten(f.detail, DETAIL_CHARS),
             "where": f"{session.roots.shown(f.file)}:{f.line}", **({"fix": f.fix["title"]} if f.fix else {})}
            for f in findings[offset:offset + limit]]
    result = {"counts": counts, "findings": page, "next_offset": offset + limit if len(findings) > offset + limit else None}
    if errors:
        result["errors"] = [shorten(error, DETAIL_CHARS) for error in errors[:5]]
    if not session.online:
        result["note"] = "offline: cached registry answers and the index only"
    return result
