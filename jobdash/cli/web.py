"""`jobdash web`: the dashboard served to a browser (`jobdash/web/`). It runs until stopped,
so `main` hands it the parsed arguments rather than running it as a store command."""

from __future__ import annotations

import argparse


def serve(args: argparse.Namespace) -> int:
    from jobdash.web.command import run_web

    return run_web(args)
