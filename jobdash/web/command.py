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
import re
import sys

from jobdash.core.model import BadInput
from jobdash.core.service import Service, read_config
from jobdash.present.text import sanitize
from jobdash.present.words import plural
from jobdash.web.auth import Gate, check_hash, hash_password
from jobdash.web.server import URL, WebServer, serve
from jobdash.web.session import dashboard_argv


def read_password() -> str:
    """A new password: asked twice on a terminal, else the first line of standard input."""
    try:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("password: ")
            if getpass.getpass("again: ") != password:
                raise BadInput("the two passwords differ")
    except (OSError, ValueError, UnicodeDecodeError) as e:  # no stdin, closed, not UTF-8
        raise BadInput(f"cannot read the password from standard input: {e}") from None
    if not password.isprintable():  # control characters; lone surrogates (not UTF-8)
        raise BadInput("a password must be printable UTF-8 text")
    if len(password) < 8:
        raise BadInput("a password needs at least 8 characters")
    return password


HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*"
)


def check_host(host: str) -> None:
    """`--host`: an IP address or a host name (before anything resolves it)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOST_NAME.fullmatch(host):
            raise BadInput(f"--host: not an IP address or a host name: {host!r}") from None


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
    check_host(args.host)
    cfg = read_config(args.config)
    if cfg.web_password_hash is not None:
        check_hash(cfg.web_password_hash, f"{cfg.path}: web.password_hash")
    # Opened once here, so that a store that cannot be opened is said now, in one line.
    svc = await Service.open(
        db=args.db,
        config=args.config,
        reading=args.read_only,
        upgrading=lambda line: print(f"jobdash: {sanitize(line)}", file=sys.stderr, flush=True),
    )
    if svc.created:
        print(f"jobdash: {sanitize(svc.created)}", file=sys.stderr)
    await svc.close()
    gate = Gate.new(cfg.web_password_hash)
    server = WebServer(gate, dashboard_argv(session_options(args)), sessions=args.sessions)
    how = f"?token={gate.token}" if gate.token else f" (the password of {sanitize(str(cfg.path))})"
    mode = ", read-only" if args.read_only else ""
    ready = (
        f"jobdash web: the dashboard of user {svc.user}{mode}, at most "
        f"{plural(args.sessions, 'session')}, at\n    {URL}{how}\nCtrl+C stops it and every session."
    )
    if not is_loopback(args.host):
        ready += (
            f"\nWarning: {args.host} is not a loopback address: the address, its token and "
            "every screen cross the network in clear (README: In a browser; ssh -L instead)."
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
