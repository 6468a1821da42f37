"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys


def add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        metavar="PATH",
        help="index file (default: $CITEWISE_INDEX, else the user data directory)",
    )


def print_json(value) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
