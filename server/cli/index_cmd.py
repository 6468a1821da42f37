"""`citewise index add|stats|reembed|vectors|graph|enrich|rebuild`: build and inspect the paper index.

Each file read goes into the index in its own transaction, so a failure part-way
leaves what was already there untouched. The embedding model is loaded only when
there is something to embed.

`add`, `reembed`, `vectors`, `graph` and `rebuild` are bulk work: they run BULK_NICENESS nice steps below the
priority they were started with (`--nice N`, 0 for none), so that an editor's language server
on the same cores keeps answering while they embed (server/features/background.py lowers its
own background lanes alike).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from citewise.server.cli.common import add_index_option, print_json
from citewise.server.cli.resolve_cmd import add_network_options

PROGRESS_MIN_ITEMS = 200
BULK_NICENESS = 10


def register(subparsers) -> None:
    parser = subparsers.add_parser("index", help="build and inspect the paper index")
    actions = parser.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    from citewise.bib.readers import describe_formats

    add = actions.add_parser("add", help="read papers from files or folders into the index")
    add.add_argument("paths", nargs="+", metavar="PATH",
                     help=f"files (format told by content: {describe_formats()}) or folders")
    add_index_option(add)
    add_model_option(add)
    add.add_argument("--embed", choices=["now", "later"], default="now",
                     help="now (default): embed the papers after reading them; later: store them searchable by "
                          "their words at once and embed them with `citewise index reembed --pending`")
    # The earlier spelling of `--embed later`, kept for scripts; it prints no reminder.
    add.add_argument("--no-embed", dest="embed", action="store_const", const="skip", help=argparse.SUPPRESS)
    add.add_argument("--batch-size", type=int, default=1000, metavar="N",
                     help="papers committed together (default 1000); an interrupted add continues after the last batch")
    add_device_option(add)
    add.add_argument("--enrich", action="store_true", help="look up the papers read without authors, year or venue (sends their titles to the registries)")
    add_network_options(add)
    add_nice_option(add)
    add.set_defaults(handler=run_add)

    stats = actions.add_parser("stats", help="counts, model and sources of the index")
    add_index_option(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(handler=run_stats)

    reembed = actions.add_parser("reembed", help="embed every reference again (after changing the model), "
                                                 "or with --pending those waiting")
    add_index_option(reembed)
    add_model_option(reembed)
    add_device_option(reembed)
    reembed.add_argument("--pending", action="store_true",
                         help="embed only the papers waiting (added with --embed later, or an interrupted run); "
                              "can be stopped and run again")
    add_nice_option(reembed)
    reembed.set_defaults(handler=run_reembed)

    vectors = actions.add_parser("vectors", help="store vectors computed elsewhere (JSON Lines: "
                                                 '{"arxiv"|"doi"|"key": ..., "vector": [...]} per line)')
    vectors.add_argument("file", metavar="FILE", help="JSON Lines, one paper's vector per line")
    vectors.add_argument("--model", required=True, metavar="NAME",
                         help="the model that computed them (queries are embedded with it)")
    add_index_option(vectors)
    add_nice_option(vectors)
    vectors.set_defaults(handler=run_vectors)

    graph = actions.add_parser("graph", help="build the nearest-neighbour graph of a large index now (when its file "
                                             "is missing), or with --rebuild again at the current settings")
    add_index_option(graph)
    graph.add_argument("--rebuild", action="store_true",
                       help="build a new graph from every vector (one written by an older citewise, or damaged); "
                            "the old one serves searches until then; can be stopped and run again")
    add_nice_option(graph)
    graph.set_defaults(handler=run_graph)

    rebuild = actions.add_parser("rebuild", help="a new index from the sources `index stats` lists (after damage)")
    add_index_option(rebuild)
    add_model_option(rebuild)
    rebuild.add_argument("--no-embed", action="store_true", help="store references without embedding them")
    add_nice_option(rebuild)
    rebuild.set_defaults(handler=run_rebuild)

    enrich = actions.add_parser("enrich", help="fill missing authors, year, venue, DOI and arXiv id from the registries")
    add_index_option(enrich)
    enrich.add_argument("--limit", type=int, metavar="N", help="look up at most N papers")
    add_network_options(enrich)
    enrich.set_defaults(handler=run_enrich)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", metavar="DEVICE",
                        help="where torch embeds: cpu (default), cuda, cuda:1, mps… when torch sees that device")


def add_nice_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nice", type=_niceness, default=BULK_NICENESS, metavar="N",
                        help=f"run N steps below normal CPU priority (default {BULK_NICENESS}; 0: normal), "
                             "so an editor's citewise keeps answering meanwhile")


def _niceness(text: str) -> int:
    if not text.isdigit() or int(text) > 19:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 19, got {text!r}")
    return int(text)


def lower_priority(args: argparse.Namespace) -> None:
    """Bulk work yields the cores (module docstring): called before it starts any thread,
    which then inherit the lowered priority."""
    if args.nice:
        os.nice(args.nice)


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="sentence-transformers model (default: the index's model, else all-MiniLM-L6-v2)",
    )


def run_add(args: argparse.Namespace) -> int:
    from pathlib import Path

    from citewise.bib.errors import CitewiseError, SourceError
    from citewise.bib.index.ingest import forget_checkpoints, ingest_files
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index
    from citewise.bib.readers import files_in, read_file_items

    lower_priority(args)
    missing: list[SourceError] = []
    strings: dict[str, str] = {}
    reads = [read_file_items(file, strings) for path in args.paths for file in files_in(Path(path), missing)]
    if not any(read.format for read in reads):
        errors = missing + [item.found for read in reads for item in read.items()
                            if isinstance(item.found, SourceError) and not item.found.warning]
        if len(errors) == 1:
            raise errors[0]
        if not errors:
            raise CitewiseError(f"{', '.join(args.paths)}: no references found")
    with Index.open(resolve_index_path(args.index)) as index, index.explained():
        progress = Progress("reading")
        run = ingest_files(index, reads, max(1, args.batch_size),
                           on_progress=lambda p: progress.update(p.papers, p.bytes_done / max(p.bytes_total, 1),
                                                                 p.seconds_left))
        progress.finish()
        summary = run.summary
        summary.failed += len(missing)
        summary.errors[:0] = missing
        if args.enrich:
            _enrich(index, args, sources={read.path for read in reads if read.format})
        embedded = _embed(index, args.model, args.device) if args.embed == "now" else 0
        forget_checkpoints(index, reads)
        waiting = index.stats()["needs_embedding"] if args.embed == "later" else 0
    for source, items in run.resumed:
        print(f"citewise: {source}: continued after the {items} items an interrupted run had stored", file=sys.stderr)
    for error in summary.errors:
        print(error, file=sys.stderr)
    print(
        f"added {summary.added}, updated {summary.updated}, skipped {summary.skipped}, "
        f"failed {summary.failed}" + (f", warnings {run.warnings}" if run.warnings else "") + f"; embedded {embedded}"
        + (f"; {waiting} wait for `citewise index reembed --pending`" if waiting else "")
    )
    return 1 if summary.failed else 0


def run_stats(args: argparse.Namespace) -> int:
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index

    with Index.open(resolve_index_path(args.index), read_only=True) as index, index.explained():
        stats = index.stats()
    if args.json:
        print_json(stats)
        return 0
    print(f"index       {stats['path']} ({stats['size_bytes'] / 1e6:.1f} MB, schema {stats['schema_version']})")
    print(f"references  {stats['references']} ({stats['with_doi']} with DOI, {stats['with_arxiv']} with arXiv id, "
          f"{stats['with_abstract']} with abstract)")
    print(f"embedded    {stats['embedded']} with {stats['model'] or 'no model yet'}"
          + (f" ({stats['dimension']} dims)" if stats["dimension"] else "")
          + (f"; {stats['needs_embedding']} waiting" if stats["needs_embedding"] else ""))
    if stats["citation_links"]:
        whose = "1 paper's reference list" if stats["citing_papers"] == 1 else f"{stats['citing_papers']} papers' reference lists"
        print(f"citations   {stats['citation_links']} links from {whose}")
    if stats["graph"] is not None:
        print(f"graph       {graph_line(stats['graph'], stats['dimension'])}")
    for source, count in stats["sources"].items():
        print(f"source      {source}: {count}")
    return 0


def graph_line(graph: dict, dimension: int | None) -> str:
    """The HNSW file beside a large index (ann.py), and what to do when it is missing, damaged or
    of another model's vectors than the index's (of `dimension`)."""
    if not graph["present"]:
        return (f"missing ({graph['file']}): dense search holds every vector in memory until "
                "`citewise index graph` builds it")
    if graph["papers"] is None:
        return f"damaged ({graph['file']}): `citewise index graph --rebuild` builds it again"
    if dimension and graph["dimensions"] != dimension:
        return (f"of another model's vectors ({graph['file']}: {graph['dimensions']} dimensions, the index's have "
                f"{dimension}): dense search is exact until `citewise index graph` builds it again")
    waiting = f"; {graph['changes_waiting']} changed papers wait to reach it" if graph["changes_waiting"] else ""
    return f"{graph['papers']} papers in {graph['file']} ({graph['size_bytes'] / 1e6:.1f} MB){waiting}"


def run_reembed(args: argparse.Namespace) -> int:
    from citewise.bib.index.embed import Embedder, reembed
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index

    lower_priority(args)
    with Index.open(resolve_index_path(args.index), create=False) as index, index.explained():
        if args.pending:
            count = _embed(index, args.model, args.device)
            print(f"embedded {count} references" + (f" with {index.get_meta('model')}" if count else ""))
            return 0
        embedder = Embedder.load(args.model or index.get_meta("model"), device=args.device)
        progress = Progress("embedding", index.count())
        count = reembed(index, embedder, on_progress=lambda done, total: progress.update(done))
        progress.finish()
    print(f"embedded {count} references with {embedder.name}")
    return 0


def run_vectors(args: argparse.Namespace) -> int:
    from pathlib import Path

    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index
    from citewise.bib.index.vectors_file import import_vectors

    lower_priority(args)  # a large index's graph takes the vectors as they come: minutes of both cores
    with Index.open(resolve_index_path(args.index), create=False) as index, index.explained():
        result = import_vectors(index, Path(args.file), args.model)
    for error in result.errors:
        print(error, file=sys.stderr)
    print(f"stored {result.stored} vectors; {result.unknown} name no paper of the index; "
          f"{len(result.errors)} lines failed")
    return 1 if result.errors else 0


def run_graph(args: argparse.Namespace) -> int:
    from citewise.bib.index.ann import ANN_THRESHOLD, CONNECTIVITY, graph_connectivity
    from citewise.bib.index.location import is_database_url, resolve_index_path
    from citewise.bib.index.store import Index

    lower_priority(args)
    location = resolve_index_path(args.index)
    with Index.open(location, create=False) as index, index.explained():
        stats = index.stats()
        embedded, graph = stats["embedded"], stats["graph"]
        if graph is None:
            print("a PostgreSQL index keeps its graph in the database (pgvector); nothing to build"
                  if is_database_url(location) else
                  f"{embedded} papers hold vectors; exact search serves an index below {ANN_THRESHOLD}, "
                  "so it needs no graph")
            return 0
        whole = args.rebuild or not graph["present"] or graph["papers"] is None
        progress = Progress("graph")
        index.sync_ann(rebuild=whole, on_progress=progress.advance)
        progress.finish()
        graph = index.graph_state(embedded)
    connectivity = graph_connectivity(location)
    older = (f"; an older citewise built it: `--rebuild` builds it at connectivity {CONNECTIVITY}, for better recall"
             if connectivity != CONNECTIVITY else "")
    print(f"graph {graph['file']}: {graph['papers']} papers, connectivity {connectivity}, "
          f"{graph['size_bytes'] / 1e6:.1f} MB{' (built now)' if whole else ', up to date'}{older}")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    from pathlib import Path

    from citewise.bib.index.location import is_database_url, resolve_index_path
    from citewise.bib.index.rebuild import rebuild_index
    from citewise.bib.index.store import Index

    lower_priority(args)
    location = resolve_index_path(args.index)
    if is_database_url(location):
        from citewise.bib.errors import CitewiseError

        raise CitewiseError("index rebuild works on an index file; a PostgreSQL index is repaired by its database")
    result = rebuild_index(Path(location))
    for error in result.summary.errors:
        print(error, file=sys.stderr)
    for source in result.missing:
        print(f"citewise: {source}: not found, not re-read (sync or add it again)", file=sys.stderr)
    summary = result.summary
    embedded = 0
    if not args.no_embed:
        with Index.open(location) as index, index.explained():
            embedded = _embed(index, args.model or result.model)
    print(f"rebuilt {location} from {len(result.sources)} sources: added {summary.added}, updated {summary.updated}, "
          f"skipped {summary.skipped}, failed {summary.failed}; embedded {embedded}; the old file is kept as {result.kept_as}")
    return 1 if result.missing or summary.failed else 0


def run_enrich(args: argparse.Namespace) -> int:
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.index.store import Index

    with Index.open(resolve_index_path(args.index), create=False) as index:
        _enrich(index, args, limit=args.limit)
        _embed(index, None)
    return 0


def _enrich(index, args: argparse.Namespace, limit: int | None = None, sources: set[str] | None = None) -> None:
    from citewise.bib.registries.enrich import enrich_index
    from citewise.bib.registries.lookup import Registries

    progress = Progress("looking up")
    with Registries.open(offline=args.offline, mailto=args.mailto) as registries:
        summary = enrich_index(index, registries, limit=limit, sources=sources, on_progress=progress.advance)
    progress.finish()
    for old, new in summary.rekeyed.items():
        print(f"key {old} -> {new} ({old} still works)")
    print(f"enriched {summary.enriched} of {summary.candidates} incomplete papers; "
          f"no confident match {summary.not_found}, registries unavailable {summary.unverifiable}")


def _embed(index, model: str | None, device: str | None = None) -> int:
    from citewise.bib.index.embed import Embedder, embed_pending

    pending = index.stats()["needs_embedding"]
    if not pending:
        return 0
    embedder = Embedder.load(model or index.get_meta("model"), device=device)
    progress = Progress("embedding", pending)
    count = embed_pending(index, embedder, on_progress=lambda done, total: progress.update(done))
    progress.finish()
    return count


class Progress:
    """A one-line progress bar on stderr, shown on a terminal only: papers, papers per second,
    time left. `total` is the number of items when known (embedding); an ingest tells the
    fraction of its files' bytes read instead."""

    def __init__(self, label: str, total: int | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.shown = sys.stderr.isatty() and (total is None or total >= PROGRESS_MIN_ITEMS)
        self.started = time.monotonic()
        self.last_drawn = 0.0

    def update(self, done: int, fraction: float | None = None, seconds_left: float | None = None) -> None:
        self.done = done
        now = time.monotonic()
        if fraction is None and self.total:
            fraction = done / self.total
        if seconds_left is None and fraction:
            elapsed = now - self.started
            seconds_left = elapsed * (1 - fraction) / fraction
        if self.shown and (now - self.last_drawn > 0.1 or (fraction or 0) >= 1):
            self.last_drawn = now
            sys.stderr.write("\r" + progress_line(self.label, done, fraction or 0.0, now - self.started, seconds_left))
            sys.stderr.flush()

    def advance(self, done: int, total: int) -> None:
        """`update` as an `on_progress(done, total)` callback: the total comes with the first call."""
        if self.total is None:
            self.total = total
            self.shown = self.shown and total >= PROGRESS_MIN_ITEMS
        self.update(done)

    def finish(self) -> None:
        if self.shown and self.done:
            sys.stderr.write("\n")


def progress_line(label: str, done: int, fraction: float, seconds: float, seconds_left: float | None,
                  width: int = 30) -> str:
    """`reading    [#########.....] 12,000 papers, 950/s, 1:02:03 left`."""
    filled = int(width * min(max(fraction, 0.0), 1.0))
    rate = done / seconds if seconds > 0 else 0.0
    left = "" if seconds_left is None else f", {_clock(seconds_left)} left"
    return f"{label:<10} [{'#' * filled}{'.' * (width - filled)}] {done:,} papers, {rate:,.0f}/s{left}"


def _clock(seconds: float) -> str:
    minutes, second = divmod(int(round(seconds)), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"
