"""`citewise serve`: run the language server on stdio (editors) or TCP (debugging).

pygls and the features are imported inside the handler so `citewise --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from citewise.bib.errors import CitewiseError


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the language server (stdio by default)")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    transport.add_argument("--tcp", metavar="HOST:PORT", type=_host_port, help="listen for one editor on a TCP port")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="what the server logs to stderr (default: WARNING)")
    parser.set_defaults(handler=serve)


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:2087, got {value!r}")
    return host, int(port)


def serve(args: argparse.Namespace) -> None:
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="citewise %(levelname)s %(name)s: %(message)s")
    from citewise.server.lsp.server import create_server

    server = create_server()
    if args.tcp:
        host, port = args.tcp
        try:
            server.start_tcp(host, port)
        except OSError as error:
            raise CitewiseError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    else:
        server.start_io()
    leave_without_finalizing()


def leave_without_finalizing() -> None:
    """End the process once the client has said `exit`.

    Background threads (model loading, .bib title embedding) may still be inside torch;
    finalizing the interpreter under them aborts with "terminate called without an active
    exception". Every write the server makes is already committed, so nothing is lost.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if not stream.closed:
            stream.flush()
    os._exit(0)
