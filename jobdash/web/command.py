"""The `jobdash web` command.

`run_web` is the command: it checks the config and the store before it listens (a typo
is one line and exit 2, not a page that never loads), then serves until a signal.
`--hash-password` makes the config's `[web] password_hash` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import logging
import sys

from jobdash.core.model import BadInput
from jobdash.core.service import Service, read_config
from jobdash.web.auth import Gate, check_hash, hash_password
from jobdash.web.server import WebServer, serve
from jobdash.web.session import dashboard_argv


def read_password() -> str:
    """A new password: asked twice on a terminal, else the first line of standard input."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise BadInput("the two passwords differ")
    if len(password) < 8:
        raise BadInput("a password needs at least 8 characters")
    return password


def is_loopback(host: str) -> bool:
    """Whether `host` is reached from this machine only (a name other than localhost may
    resolve anywhere: it is not taken for one)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_options(args: argparse.Namespace) -> list[str]:
    """What each session's dashboard is told: the same store and config as the server, and
    `--read-only` when the server has it."""
    options: list[str] = []
    if args.db is not None:
        options += ["--db", args.db]
    if args.config is not None:
        options += ["--config", args.config]
    if args.read_only:
        options.append("--read-only")
    return options


async def _serve(args: argparse.Namespace) -> int:
    cfg = read_config(args.config)
    if cfg.web_password_hash is not None:
        check_hash(cfg.web_password_hash, f"{cfg.path}: web.password_hash")
    # Opened once here, so that a store that cannot be opened is said now, in one line.
    svc = await Service.open(db=args.db, config=args.config, reading=args.read_only)
    if svc.created:
        print(f"jobdash: {svc.created}", file=sys.stderr)
    await svc.close()
    gate = Gate.new(cfg.web_password_hash)
    server = WebServer(gate, dashboard_argv(session_options(args)), sessions=args.sessions)
    how = f"?token={gate.token}" if gate.token else f" (the password of {cfg.path})"
    mode = ", read-only" if args.read_only else ""
    ready = (
        f"jobdash web: the dashboard of user {svc.user}{mode}, at most {args.sessions} "
        f"sessions, at\n    {{url}}{how}\nCtrl+C stops it and every session."
    )
    if not is_loopback(args.host):
        print(
            f"jobdash web: {args.host} is not a loopback address: the address, its token and "
            "every screen cross the network in clear (README: In a browser; ssh -L instead)",
            file=sys.stderr,
        )
    await serve(server, args.host, args.port, ready)
    return 0


def run_web(args: argparse.Namespace) -> int:
    """`jobdash web`."""
    if args.hash_password:
        print(f'[web]\npassword_hash = "{hash_password(read_password())}"')
        return 0
    logging.basicConfig(level=logging.INFO, format="jobdash web: %(message)s")
    return asyncio.run(_serve(args))
