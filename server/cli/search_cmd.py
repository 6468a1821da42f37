"""`citewise search` and `citewise suggest`: ask the index which papers to cite.

`search -` is batch mode for tools: one query per stdin line, one JSON array per
stdout line, the model loaded once. `suggest` walks a LaTeX or Markdown draft and the
files it includes paragraph by paragraph and proposes papers the draft does not cite
yet, ranked by the language server's suggestion feature (server/features/suggestions.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from citewise.server.cli.common import add_index_option, print_json
from citewise.server.cli.index_cmd import add_model_option

MAX_RESULTS = 1000
"""The most results a query returns; a larger -k is capped to it."""

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
    parser.add_argument("-k", type=int, default=10, metavar="N", help=f"results per query (default 10, at most {MAX_RESULTS})")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_index_option(parser)
    add_model_option(parser)


def result_count(k: int) -> int:
    """-k checked: at least 1, at most MAX_RESULTS."""
    from citewise.bib.errors import CitewiseError

    if k < 1:
        raise CitewiseError(f"-k {k}: ask for at least 1 result")
    return min(k, MAX_RESULTS)


def query_text(text: str) -> str:
    """A query as the user meant it: bytes that are not UTF-8 (argv keeps them as surrogates) become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def run_search(args: argparse.Namespace) -> int:
    import io

    filters = {"year_from": args.year_from, "year_to": args.year_to, "source": args.source}
    args.k = result_count(args.k)
    with open_searcher(args) as searcher:
        if args.text == "-":
            for line in io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"):
                hits = searcher.search(line, k=args.k, **filters) if line.strip() else []
                print_json([hit_to_json(hit) for hit in hits])
                sys.stdout.flush()
            return 0
        hits = searcher.search(query_text(args.text), k=args.k, **filters)
    if args.json:
        print_json([hit_to_json(hit) for hit in hits])
    else:
        for rank, hit in enumerate(hits, 1):
            print(format_hit(rank, hit))
    return 0


def run_suggest(args: argparse.Namespace) -> int:
    """Paragraph by paragraph, through the language server's own suggestion ranking."""
    from citewise.bib.errors import CitewiseError
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index
    from citewise.server.drafts.project import language_of, read_source
    from citewise.server.drafts.suffixes import DRAFT_FORMATS
    from citewise.server.features.settings import Settings
    from citewise.server.features.suggestions import draft_suggestions
    from citewise.server.features.workspace import Workspace

    args.k = result_count(args.k)
    path = Path(args.draft).resolve()
    if language_of(str(path)) is None:
        raise CitewiseError(f"{args.draft}: unknown draft format (expected {DRAFT_FORMATS})")
    read_source(path)  # one clear line for a missing, unreadable or special file
    index_path = resolve_index_path(args.index)
    with Index.open(index_path, read_only=True) as index, index.explained():  # a clear error when there is none
        stored_model = index.get_meta("model")
    ws = Workspace([str(path.parent)], Settings(index_path=str(index_path), model=args.model or stored_model,
                                                suggestion_feedback=False))
    if stored_model:
        ws.load_model()
    records = []
    for paragraph in draft_suggestions(ws, str(path), args.k):
        items = [{**suggestion_to_json(ref), "score": item.score, "inBib": item.in_bib, "reason": item.reason,
                  "key": item.key} for item, ref in zip(paragraph.items, paragraph.refs)]
        records.append({"file": _shown(paragraph.path, args.draft, path), "line": paragraph.line + 1,
                        "text": paragraph.text, "items": items})
    if args.json:
        print_json(records)
        return 0
    for record in records:
        print(f"{record['file']}:{record['line']}: {_shorten(record['text'], 90)}")
        for rank, item in enumerate(record["items"], 1):
            print(f"    {rank}. {item['key']}  {_shorten(item['title'], 70)} ({item['year'] or 'n.d.'})  "
                  f"{item['score']:.2f}  — {item['reason']}")
    return 0


def _shown(file: str, given: str, resolved: Path) -> str:
    """The draft as the user named it; included files relative to the working directory."""
    if Path(file) == resolved:
        return given
    relative = os.path.relpath(file)
    return file if relative.startswith("..") else relative


def suggestion_to_json(ref) -> dict:
    return {"key": ref.key, "title": ref.title, "authors": [author.display() for author in ref.authors],
            "year": ref.year, "doi": ref.doi, "arxiv": ref.arxiv, "venue": ref.venue}


@contextmanager
def open_searcher(args: argparse.Namespace) -> Iterator:
    """The index from --index as a Searcher, with the model loaded when the index has vectors."""
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.search import Searcher
    from citewise.bib.index.store import Index

    with Index.open(resolve_index_path(args.index), read_only=True) as index, index.explained():
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


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
