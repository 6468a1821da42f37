"""`citewise search` and `citewise suggest`: ask the index which papers to cite.

`search -` is batch mode for tools: one query per stdin line, one JSON array per
stdout line, the model loaded once. `suggest` walks a LaTeX or Markdown draft
paragraph by paragraph and proposes papers the draft does not cite yet.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from citewise.server.cli.common import add_index_option, print_json
from citewise.server.cli.index_cmd import add_model_option

MIN_PARAGRAPH_WORDS = 8
_SKIPPED_LATEX_ENVIRONMENTS = re.compile(
    r"\\begin\{(figure|table|equation|align|tabular|verbatim|lstlisting|thebibliography)\*?\}"
    r"(?:(?!\\begin\{\1\*?\}).)*?\\end\{\1\*?\}",  # stops at the next same \begin: linear time
    re.S,
)
_MARKDOWN_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def register(subparsers) -> None:
    search = subparsers.add_parser("search", help="papers matching a text (`-` reads one query per stdin line)")
    search.add_argument("text", metavar="TEXT", help="query text (LaTeX/Markdown allowed) or `-` for batch mode")
    _add_common_options(search)
    search.add_argument("--year-from", type=int, metavar="YEAR", help="only papers from this year on")
    search.add_argument("--year-to", type=int, metavar="YEAR", help="only papers up to this year")
    search.add_argument("--source", metavar="TEXT", help="only papers read from a source containing TEXT")
    search.set_defaults(handler=run_search)

    suggest = subparsers.add_parser("suggest", help="papers to cite in each paragraph of a LaTeX/Markdown draft")
    suggest.add_argument("draft", metavar="DRAFT", help="a .tex or .md file")
    _add_common_options(suggest)
    suggest.set_defaults(handler=run_suggest)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=int, default=10, metavar="N", help="results per query (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_index_option(parser)
    add_model_option(parser)


def run_search(args: argparse.Namespace) -> int:
    filters = {"year_from": args.year_from, "year_to": args.year_to, "source": args.source}
    with open_searcher(args) as searcher:
        if args.text == "-":
            for line in sys.stdin:
                hits = searcher.search(line, k=args.k, **filters) if line.strip() else []
                print_json([hit_to_json(hit) for hit in hits])
                sys.stdout.flush()
            return 0
        hits = searcher.search(args.text, k=args.k, **filters)
    if args.json:
        print_json([hit_to_json(hit) for hit in hits])
    else:
        for rank, hit in enumerate(hits, 1):
            print(format_hit(rank, hit))
    return 0


@dataclass
class Paragraph:
    """A stretch of draft text between blank lines; `line` is 1-based."""

    line: int
    text: str


def run_suggest(args: argparse.Namespace) -> int:
    from citewise.bib.text import strip_markup
    from citewise.server.drafts.project import read_source

    path = Path(args.draft)
    draft_language(path)
    text = read_source(path)
    cited = cited_keys(path, text)
    records = []
    with open_searcher(args) as searcher:
        for paragraph in draft_paragraphs(path, text):
            plain = strip_markup(paragraph.text)
            if len(plain.split()) < MIN_PARAGRAPH_WORDS:
                continue
            hits = searcher.search(paragraph.text, k=args.k, exclude_keys=cited)
            records.append({"file": str(path), "line": paragraph.line, "text": plain,
                            "items": [hit_to_json(hit) for hit in hits]})
    if args.json:
        print_json(records)
        return 0
    for record in records:
        print(f"{record['file']}:{record['line']}: {_shorten(record['text'], 90)}")
        for rank, item in enumerate(record["items"], 1):
            print(f"    {rank}. {item['key']}  {_shorten(item['title'], 70)} ({item['year'] or 'n.d.'})  {item['score']:.2f}")
    return 0


def cited_keys(path: Path, text: str) -> set[str]:
    """Every key the draft already cites."""
    language = draft_language(path)
    if language == "latex":
        from citewise.server.drafts.latex import find_latex_citations

        citations = find_latex_citations(text, str(path))
    else:
        from citewise.server.drafts.markdown import find_markdown_citations

        citations = find_markdown_citations(text, str(path))
    return {use.key for citation in citations for use in citation.keys}


def draft_language(path: Path) -> str:
    from citewise.bib.errors import CitewiseError
    from citewise.server.drafts.project import language_of

    language = language_of(path)
    if language:
        return language
    raise CitewiseError(f"{path}: unknown draft format (expected .tex or .md)")


def draft_paragraphs(path: Path, text: str) -> list[Paragraph]:
    """Prose paragraphs with their first line; preamble, floats, math and code blocked out."""
    if draft_language(path) == "latex":
        body = text.find("\\begin{document}")
        masked = _blank(text, 0, body) if body > 0 else text
        masked = _SKIPPED_LATEX_ENVIRONMENTS.sub(lambda m: _newlines_only(m.group(0)), masked)
    else:
        masked = _FRONT_MATTER.sub(lambda m: _newlines_only(m.group(0)), text)
        masked = _MARKDOWN_FENCE.sub(lambda m: _newlines_only(m.group(0)), masked)
    paragraphs, current, start = [], [], 0
    for number, line in enumerate(masked.splitlines(), 1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            paragraphs.append(Paragraph(start, "\n".join(current)))
            current = []
    if current:
        paragraphs.append(Paragraph(start, "\n".join(current)))
    return paragraphs


@contextmanager
def open_searcher(args: argparse.Namespace) -> Iterator:
    """The index from --index as a Searcher, with the model loaded when the index has vectors."""
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.search import Searcher
    from citewise.bib.index.store import Index

    with Index.open(resolve_index_path(args.index), create=False) as index:
        stored_model = index.get_meta("model")
        if not stored_model:
            yield Searcher(index)
            return
        from citewise.bib.index.embed import QUERY_THREADS, Embedder

        yield Searcher(index, Embedder.load(args.model or stored_model, threads=QUERY_THREADS))


def hit_to_json(hit) -> dict:
    ref = hit.ref
    return {
        "key": ref.key,
        "title": ref.title,
        "authors": [author.display() for author in ref.authors],
        "year": ref.year,
        "score": hit.score,
        "doi": ref.doi,
        "arxiv": ref.arxiv,
        "source": ref.origin.source if ref.origin else "",
        "venue": ref.venue,
        "lexical": hit.lexical,
        "dense": hit.dense,
        "fuzzy": hit.fuzzy,
    }


def format_hit(rank: int, hit) -> str:
    ref = hit.ref
    authors = ref.short_author() or "anonymous"
    return f"{rank:>2}. {ref.key}  {ref.title} — {authors} ({ref.year or 'n.d.'})  [{hit.score:.2f}]"


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + _newlines_only(text[start:end]) + text[end:]


def _newlines_only(text: str) -> str:
    return "\n" * text.count("\n")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
