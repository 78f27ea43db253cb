"""`jobdash ARGS`: parse, open the store through the service, run the command, and turn
what went wrong into one line and an exit status.

Exit status: 0 success, 1 the job failed or the request was refused, 2 bad usage or input,
an unknown job id, failure group, schedule, agent or artifact included (`unknown`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING

from jobdash.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE, parse_args
from jobdash.core.service import freeze_start_up, hold_collector, release_collector

if TYPE_CHECKING:
    from jobdash.core.service import Service

Command = Callable[["Service", argparse.Namespace], Awaitable[int]]

# Which module of `jobdash.cli` runs each command that opens a store (its `COMMANDS` maps
# the command to its handler). Only that module is imported: `jobdash jobs` loads neither
# the engine's commands nor the schedules'.
COMMANDS: dict[str, str] = {
    "run": "run",
    "cancel": "run",
    "pause": "run",
    "resume": "run",
    "retry": "run",
    "clear": "run",
    "jobs": "jobs",
    "show": "jobs",
    "export": "jobs",
    "logs": "logs",
    "artifacts": "artifacts",
    "artifact": "artifacts",
    "types": "config",
    "whoami": "config",
    "serve": "engine",
    "agent": "engine",
    "agents": "engine",
    "schedules": "schedules",
    "schedule": "schedules",
    "failures": "failures",
    "audit": "audit",
    "why": "why",
}


def handler(command: str) -> Command:
    """The function that runs `command` on an open store, from its module."""
    handlers: dict[str, Command] = import_module(f"jobdash.cli.{COMMANDS[command]}").COMMANDS
    return handlers[command]


# Commands that open no store: module and function.
STORELESS = {
    "completion": ("completion", "cmd_completion"),
    "import-crontab": ("crontab", "cmd_import_crontab"),
    "systemd-unit": ("systemd", "cmd_systemd_unit"),
    "check": ("config", "cmd_check"),
}

# Commands that only read the store: they read one that cannot be written, too.
READING = frozenset(
    {
        "jobs",
        "show",
        "why",
        "logs",
        "export",
        "types",
        "schedules",
        "agents",
        "audit",
        "artifacts",
        "artifact",
        "whoami",
    }
)


# Commands that read without the event loop (`core.loopfree`): the store's coroutines are
# driven to their end, with no asyncio to import and start (a fifth of `jobdash jobs`).
# Not those that wait or read ahead (`logs`, `export`); a store that needs the loop (to be
# created, upgraded, or a PostgreSQL one) is read on it as before.
LOOP_FREE = frozenset({"jobs", "show", "why", "types", "whoami", "agents", "audit", "schedules"})


def reads_only(a: argparse.Namespace) -> bool:
    """Whether the command only reads (`failures`, but for its retry)."""
    if a.command == "failures":
        return not (a.query and a.query[0] == "retry")
    return a.command in READING or (a.command == "schedule" and a.schedule_action == "show")


async def run_command(a: argparse.Namespace, loop_free: bool = False) -> int:
    """Run the command `a` names (`loop_free`: without the event loop, see `LOOP_FREE`;
    NeedsLoop, before anything is opened or said, where the store cannot be read so)."""
    if a.command == "schedule" and a.schedule_action == "preview":
        from jobdash.cli.schedules import cmd_schedule_preview

        return cmd_schedule_preview(a)
    if a.command == "db":
        from jobdash.cli.db import cmd_db

        return await cmd_db(a)
    if a.command in STORELESS:
        module, function = STORELESS[a.command]
        run: Callable[[argparse.Namespace], int] = getattr(
            import_module(f"jobdash.cli.{module}"), function
        )
        return run(a)
    run_on_store = handler(a.command)
    from jobdash.cli.render import tell
    from jobdash.core.service import Service

    reading = reads_only(a)
    extra = None
    if getattr(a, "demo", False):
        from jobdash.demo import DEMO_TYPES

        extra = DEMO_TYPES
    svc = await Service.open(
        db=a.db,
        config=a.config,
        extra_types=extra,
        reading=reading,
        loop_free=loop_free,
        upgrading=lambda line: tell(f"jobdash: {line}"),  # never loop-free: said once
    )
    if svc.created:
        tell(f"jobdash: {svc.created}")
    # Started: the collector runs again (a command may run long: `logs -f`, `run --wait`).
    # What the start made is put out of its view, so that neither the command's own imports
    # nor the exit's last full collection walk it again (`jobs`: 573 M instructions, not
    # 626 M); an engine's (`serve`, `agent`) once the engine has started too.
    if a.command in ("serve", "agent"):
        release_collector()
    else:
        freeze_start_up()
    try:
        return await run_on_store(svc, a)
    finally:
        await svc.close()


def command_words(a: argparse.Namespace) -> str:
    """The command as typed, to say where an input was wrong: `show`, `failures show`,
    `schedule run`, `agent drain`."""
    words = [a.command]
    if a.command == "failures" and a.query and a.query[0] in ("show", "retry"):
        words.append(a.query[0])
    for action in ("schedule_action", "action"):
        if isinstance(getattr(a, action, None), str):
            words.append(getattr(a, action))
    return " ".join(words)


def unknown(a: argparse.Namespace, e: Exception) -> int:
    """Every command's answer to a job id, failure group, schedule, agent or artifact that
    is not there (or not yours): the service's `NotFound`. It is bad input, as a bad id's
    form is: one line naming the command and what it named, exit status 2. (A thing
    removed while a command works on it, say `logs -f`, is the command's own to tell.)"""
    from jobdash.cli.render import tell

    tell(f"jobdash: {command_words(a)}: {e}")
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """The `jobdash` script. The cycle collector is held while the process starts (see
    `core.heap`): released once a command's store is open, the dashboard's first screen
    drawn, or `web` about to serve, and at the latest when `main` returns."""
    hold_collector()
    try:
        return _main(argv)
    finally:
        release_collector()


def _main(argv: Sequence[str] | None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] == ["__complete"]:  # a shell's TAB (see `completion`): never an error
        from jobdash.cli.completion import complete

        return complete(words[1:])
    args = parse_args(argv)  # `--help` and usage errors end here, having loaded argparse only
    import io

    from jobdash.cli.render import color_mode, tell, use_color
    from jobdash.core.model import BadInput, NotFound, Refused
    from jobdash.present.text import sanitize

    mode = color_mode(args.color)
    use_color(mode)
    # The dashboard (Textual) and `jobdash web`'s sessions read NO_COLOR themselves, and
    # Textual counts an empty one too: it is set as the mode says, for them.
    if mode == "never":
        os.environ["NO_COLOR"] = "1"
    else:
        os.environ.pop("NO_COLOR", None)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A file name need not be UTF-8: shown escaped, as stderr does, not a crash.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        if args.command is None:
            from jobdash.cli.dashboard import open_dashboard

            return open_dashboard(args)
        if args.command == "web":
            from jobdash.cli.web import serve

            freeze_start_up()  # a server: what its start made lives as long as it
            return serve(args)
        if args.command in LOOP_FREE:
            from jobdash.core.service import NeedsLoop, run_loop_free

            try:
                return run_loop_free(run_command(args, loop_free=True))
            except NeedsLoop:
                pass  # said before anything was opened: on the loop, as any command
        import asyncio  # not loaded for `--help`, usage errors and loop-free reads

        return asyncio.run(run_command(args))
    except BadInput as e:
        tell(f"jobdash: {e}")
        return EXIT_USAGE
    except NotFound as e:
        return unknown(args, e)
    except Refused as e:
        tell(f"jobdash: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:
        # The last resort: one line, not a screen of traceback, but still said to be a bug
        # (bad input is refused before this by name). JOBDASH_DEBUG=1 shows the traceback.
        if os.environ.get("JOBDASH_DEBUG"):
            raise
        tell(
            f"jobdash: internal error (a bug; JOBDASH_DEBUG=1 shows where): "
            f"{type(e).__name__}: {sanitize(str(e))}"
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
