"""The command line's groups of commands, one module each: each declares its commands to the
parser (`declare…`, called by `parser.build_parser` in the order `--help` lists them) and
maps each command to its handler (`COMMANDS`, gathered by `main`). Importing this module
loads them all: `parser` does it only once it builds the whole command line."""

from __future__ import annotations

from jobdash.cli import (  # noqa: F401 (what this module is for)
    artifacts,
    audit,
    completion,
    config,
    crontab,
    db,
    engine,
    failures,
    jobs,
    logs,
    run,
    schedules,
    systemd,
    web,
    why,
)
