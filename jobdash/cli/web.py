"""`jobdash web`: the dashboard served to a browser (`jobdash/web/`). It runs until stopped,
so `main` hands it the parsed arguments rather than running it as a store command."""

from __future__ import annotations

import argparse

from jobdash.cli.parser import Commands, whole_number


def declare(c: Commands) -> None:
    s = c.add("web", "serve the dashboard to a browser (a token or a password first)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument(
        "--port", type=whole_number(0, 65535), default=8765, metavar="N", help="default 8765"
    )
    s.add_argument(
        "--read-only", action="store_true", default=argparse.SUPPRESS, help="sessions only watch"
    )
    s.add_argument(
        "--sessions",
        type=whole_number(1, 1000),
        default=4,
        metavar="N",
        help="browser sessions at once (default 4)",
    )
    s.add_argument(
        "--hash-password", action="store_true", help="print a [web] password_hash for the config"
    )


def serve(args: argparse.Namespace) -> int:
    from jobdash.web.command import run_web

    return run_web(args)
