"""How the dashboard is started and ended from the command line: what must hold before
anything opens (a config that reads, a theme and keymap that exist, a terminal), the store
and its engine, the signals that end it as `q` does, and the store's last word when it is
closed (a damaged store, found after the first frame, ends the dashboard in its one line).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import sys
from collections.abc import Callable

from jobdash.core.model import BadInput
from jobdash.core.service import Service, read_config
from jobdash.present.text import sanitize
from jobdash.tui.app import JobdashApp
from jobdash.tui.first_rows import FirstRows
from jobdash.tui.keymap import check_keymap
from jobdash.tui.link import Link
from jobdash.tui.themes import check_theme, load_themes


def no_terminal() -> str | None:
    """Which of the dashboard's streams is not a terminal, or None. Textual reads keys from
    standard input, draws on standard error and takes the screen's size from standard
    output: with any of them a pipe or a file it would write escapes into it and wait for
    keys that never come. Under another driver (`TEXTUAL_DRIVER`: `jobdash web` sets Textual's
    web driver, which speaks its own protocol over the pipes) no terminal is needed."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return None
    for name, stream in (("input", sys.stdin), ("output", sys.stdout), ("error", sys.stderr)):
        try:
            if stream is None or not os.isatty(stream.fileno()):
                return f"standard {name}"
        except (OSError, ValueError):  # no file descriptor (closed, or not a real file)
            return f"standard {name}"
    return None


def tell(line: str) -> None:
    """A line on stderr before Textual takes the terminal, inert (a store's path is not
    jobdash's own text)."""
    print(f"jobdash: {sanitize(line)}", file=sys.stderr, flush=True)


async def _open_and_run(args: argparse.Namespace, link: Link) -> int:
    theme = getattr(args, "theme", None)
    # Before anything opens (the store is not even created): exit 2 on a typo.
    cfg = read_config(args.config)
    if chosen := theme or cfg.theme:
        check_theme(chosen, load_themes())
    check_keymap(cfg.keymap, str(cfg.path or "config"))
    if stream := no_terminal():  # before the store is opened (or created)
        raise BadInput(
            f"the dashboard needs a terminal, and {stream} is not one; in a script use "
            "`jobdash jobs`, `jobdash show ID`, `jobdash run TYPE --wait`, or `jobdash serve` "
            "for the engine"
        )
    extra = None
    if getattr(args, "demo", False):
        from jobdash.demo import DEMO_TYPES

        extra = DEMO_TYPES
    svc = await Service.open(
        db=args.db,
        config=args.config,
        extra_types=extra,
        read_only=bool(getattr(args, "read_only", False)),
        # Before Textual takes the terminal (the app is made below): on stderr, as it is.
        upgrading=tell,
    )
    if svc.created:
        tell(svc.created)
    # SIGTERM, and SIGHUP (the terminal went away: an SSH drop), end the dashboard as `q`
    # does, not at once: the terminal is restored, and an embedded engine stops its tasks
    # and gives their claims back (`svc.close`), as `serve` does on a signal. Textual
    # handles neither; their default would kill the process where it stands.
    app: JobdashApp | None = None
    stop = asyncio.Event()

    def on_signal() -> None:
        stop.set()
        if app is not None:
            app.exit(0)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal)
    hangup = loop.create_task(watch_hangup(on_signal), name="jobdash-hangup")
    try:
        # Read-only or --no-engine (jobdash web's sessions): watch the store, run nothing.
        attach_only = svc.read_only or getattr(args, "no_engine", False)
        embedded = not attach_only and not await svc.engine_alive()
        first_rows = await FirstRows.read(svc)
        if stop.is_set():
            return 0
        app = JobdashApp(
            svc,
            embedded_engine=embedded,
            # Started once the first frame is drawn: its first write waits for the store's
            # whole-file check, seconds on a store of millions of jobs (`Db.write`).
            engine_slots=(getattr(args, "slots", 4) or 4) if embedded else None,
            demo=bool(args.demo),
            theme=theme,
            first_rows=first_rows,
            link=link,
        )
        result = await app.run_async(mouse=link.mouse)
        if app.engine_failure is not None:
            raise app.engine_failure
        return result or 0
    finally:
        hangup.cancel()
        await svc.close()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


async def watch_hangup(on_hangup: Callable[[], None], every: float = 1.0) -> None:
    """Call `on_hangup` once the terminal is gone without a SIGHUP: a pseudo-terminal whose
    other end closed while no session had it as its controlling terminal (a process that
    started the dashboard on a pty it made, then died). Its input then reads as end of file
    at once, for ever, and Textual's input thread would spin on it at a full core; the kernel
    marks such a terminal hung up (POLLHUP), which one poll a second sees."""
    poll = select.poll()
    ttys = [s for s in (sys.__stdin__, sys.__stderr__) if s is not None and s.isatty()]
    for stream in ttys:  # what Textual reads and draws on (none in a browser's session)
        poll.register(stream.fileno(), select.POLLHUP)
    while ttys:
        await asyncio.sleep(every)
        if any(mask & (select.POLLHUP | select.POLLERR) for _, mask in poll.poll(0)):
            on_hangup()
            return


def run_dashboard(args: argparse.Namespace, link: Link | None = None) -> int:
    """`jobdash` with no sub-command. Errors opening (BadInput) are raised before the UI
    starts; `jobdash.cli.main` prints them in one line and exits 2."""
    return asyncio.run(_open_and_run(args, link or Link()))
