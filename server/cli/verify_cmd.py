"""`citewise verify FILE... [--json] [--offline]`: is every reference real, current and complete?

Drafts contribute the entries they cite, .bib files every entry. One finding per entry:
`file:line: key: status: detail`. Exit status 1 when any entry is not-found, mismatch or
retracted, else 0 (unverifiable entries are reported, never an error). `--offline` uses only
cached registry answers and the index (your Zotero library, when synced). `--fit` adds
`weak-fit` findings for citations whose paper fits its sentence far worse than the draft's others.
"""

from __future__ import annotations

import argparse
import sys

from citewise.server.cli.common import add_index_option, print_json
from citewise.server.cli.resolve_cmd import add_network_options
from citewise.server.drafts.suffixes import DRAFT_FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser("verify", help="check that every reference exists, matches, is current and complete")
    parser.add_argument("paths", nargs="+", metavar="FILE", help=f"drafts ({DRAFT_FORMATS}) or .bib files")
    parser.add_argument("--json", action="store_true", help="print the findings as one JSON array")
    parser.add_argument("--fit", action="store_true", help="also check that each cited paper fits its sentence (loads the embedding model)")
    add_network_options(parser)
    add_index_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from citewise.bib.index.location import resolve_index_path
    from citewise.bib.registries.lookup import Registries
    from citewise.server.features.verify import library_lookup, verify_paths

    errors: list[str] = []
    with Registries.open(offline=args.offline, mailto=args.mailto) as registries:
        known = library_lookup(resolve_index_path(args.index))
        findings = verify_paths(args.paths, registries=registries, known=known, errors=errors)
    if args.fit:
        from citewise.bib.index.embed import Embedder
        from citewise.server.features.cite_check import fit_findings

        findings += fit_findings(args.paths, Embedder.load(), errors)
    for error in errors:
        print(error, file=sys.stderr)
    if args.json:
        print_json([finding.to_dict() for finding in findings])
    else:
        for finding in findings:
            print(f"{finding.file}:{finding.line}: {finding.key}: {finding.status}: {finding.detail}")
            if finding.fix:
                print(f"    fix: {finding.fix['title']}")
                for site in finding.fix.get("citations", []):
                    print(f"    cite {finding.fix['keep']} at {site['file']}:{site['line']}:{site['column']}")
    return 1 if any(finding.is_problem for finding in findings) else 0

