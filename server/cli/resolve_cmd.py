"""`citewise resolve ID_OR_TITLE... [--json] [--bib FILE]`: complete BibTeX entries from identifiers.

DOIs, arXiv ids, ISBNs, PubMed ids or titles go to the registries (see `citewise.bib.registries`);
each entry is printed by the BibTeX writer under a key from the key formula. `--bib FILE` also
adds each entry to FILE with a minimal edit, written atomically, unless FILE already holds the
work; `--json` prints the fields and the registry each came from.
"""

from __future__ import annotations

import argparse
import os
import sys

from citewise.server.cli.common import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("resolve", help="complete BibTeX entries from DOIs, arXiv ids, ISBNs, PubMed ids or titles")
    parser.add_argument("queries", nargs="+", metavar="ID_OR_TITLE", help="a DOI, arXiv id, ISBN, PMID, or a title (optionally 'TITLE by AUTHOR')")
    parser.add_argument("--json", action="store_true", help="print the fields and where each came from")
    parser.add_argument("--bib", metavar="FILE", help="also add the entries to this .bib file")
    add_network_options(parser)
    parser.set_defaults(handler=run)


def add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="use only cached registry answers; send nothing")
    parser.add_argument("--mailto", metavar="EMAIL", help="contact address for Crossref's and OpenAlex's polite pools (default: $CITEWISE_MAILTO)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from citewise.bib.bibtex.edit import apply_edit, insert_entry_edit
    from citewise.bib.bibtex.reader import scan_entries
    from citewise.bib.bibtex.writer import format_entry
    from citewise.bib.errors import CitewiseError
    from citewise.bib.files import read_text, write_atomically
    from citewise.bib.keys import make_key
    from citewise.bib.registries.lookup import Registries
    from citewise.bib.registries.resolve import resolve_text

    bib_path = Path(args.bib) if args.bib else None
    bib_text = read_text(bib_path, "a BibTeX file").text if bib_path and os.path.lexists(bib_path) else ""
    taken = {entry.key for entry in scan_entries(bib_text)}
    failed, results = 0, []
    with Registries.open(offline=args.offline, mailto=args.mailto) as registries:
        for query in args.queries:
            try:
                resolution = resolve_text(query, registries)
            except CitewiseError as error:
                print(f"citewise: {error}", file=sys.stderr)
                failed += 1
                continue
            ref = resolution.reference
            existing = _already_there(bib_text, str(bib_path), ref)
            ref.key = existing or make_key(ref, taken)
            taken.add(ref.key)
            entry = format_entry(ref)
            if bib_path and not existing:
                bib_text = apply_edit(bib_text, insert_entry_edit(bib_text, ref.key, entry))
                write_atomically(bib_path, bib_text)
            elif existing:
                print(f"citewise: {query}: {bib_path} already has this work as {existing}", file=sys.stderr)
            if resolution.retracted_by:
                print(f"citewise: {query}: retracted ({resolution.retracted_by})", file=sys.stderr)
            results.append((resolution, entry))
    if args.json:
        print_json([_as_json(resolution, entry) for resolution, entry in results])
    else:
        sys.stdout.write("\n".join(entry for _, entry in results))
    return 1 if failed else 0


def _already_there(bib_text: str, bib_path: str, ref) -> str:
    """The key under which the .bib file already holds this DOI or arXiv id, else ""."""
    from citewise.bib.bibtex.reader import entry_to_reference, parse_bib_text

    if not bib_text:
        return ""
    for entry in parse_bib_text(bib_text, bib_path).entries:
        other = entry_to_reference(entry, bib_path)
        if ref.doi and other.doi == ref.doi or ref.arxiv and other.arxiv == ref.arxiv:
            return entry.key
    return ""


def _as_json(resolution, entry: str) -> dict:
    from citewise.bib.model import reference_to_dict

    fields = {name: value for name, value in reference_to_dict(resolution.reference).items() if value and name != "origin"}
    return {
        "query": resolution.query,
        "identifier": {"kind": resolution.identifier.kind, "value": resolution.identifier.value},
        "key": resolution.reference.key,
        "fields": fields,
        "sources": resolution.sources,
        "retracted_by": resolution.retracted_by,
        "published_doi": resolution.published_doi,
        "bibtex": entry,
    }
