"""`jobdash systemd-unit [--user]`: a systemd unit that runs `jobdash serve`, printed to
install (the README shows how).

Why these settings: on `systemctl stop` the engine must get SIGTERM alone and run its own
shutdown (stop claiming, give running tasks `--grace` seconds, stop their process groups,
give claims back), so `KillMode=mixed` sends SIGTERM to the main process only, and the
SIGKILL for the whole cgroup comes only after `TimeoutStopSec`, which is above the grace
period plus the 5 s a task gets between SIGTERM and SIGKILL. `Restart=on-failure`
restarts an engine that crashed or stopped on a damaged store, not one stopped on purpose.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from jobdash.cli.parser import EXIT_OK
from jobdash.core.model import BadInput

STOP_MARGIN = 15.0  # seconds above the grace period: a task's SIGTERM-to-SIGKILL, and slack
_BARE = re.compile(r"[A-Za-z0-9_@+=:,./-]+\Z")


def quoted(arg: str) -> str:
    """One ExecStart argument as systemd reads it back: `%` and `$` doubled (specifiers and
    variables), else bare when plain, else in double quotes with C escapes."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if _BARE.match(arg):
        return arg
    out = []
    for ch in arg:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def program() -> list[str]:
    """How to start this jobdash: its script beside this Python, else `python -m jobdash`."""
    script = Path(sys.executable).parent / "jobdash"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("jobdash")
    return [str(Path(found).resolve())] if found else [sys.executable, "-m", "jobdash"]


def unit_text(a: argparse.Namespace) -> str:
    from jobdash.core.service import find_config_path, real_user, store_location

    store = store_location(a.db)
    if "://" in store and urlsplit(store).password:
        # A unit file is world-readable: the password goes in ~/.pgpass (mode 0600).
        raise BadInput(
            "systemd-unit: the store URL holds a password, which a unit file would show to "
            "every user: put it in the ~/.pgpass of the unit's user instead"
        )
    if "://" not in store:
        store = str(Path(store).resolve())
    argv = [*program(), "serve", "--db", store]
    config = find_config_path(a.config)
    if config is not None:
        argv += ["--config", str(config.resolve())]
    argv += ["--grace", f"{a.grace:g}"]
    if a.slots is not None:
        argv += ["--slots", str(a.slots)]
    user = real_user()
    lines = [
        f"# jobdash engine: `jobdash serve` as a {'user' if a.user else 'system'} service.",
        "# Made by `jobdash systemd-unit" + (" --user" if a.user else "") + "`; see the README.",
        "[Unit]",
        "Description=jobdash engine (scheduler and agent)",
        "Wants=network-online.target",
        "After=network-online.target" + (" postgresql.service" if "://" in store else ""),
        "",
        "[Service]",
        "Type=exec",
        "ExecStart=" + " ".join(quoted(x) for x in argv),
    ]
    if not a.user:
        lines.append(f"User={user.removeprefix('uid:')}")
    lines += [
        "WorkingDirectory=~",
        "Environment=PYTHONUNBUFFERED=1",
        "UMask=0077",
        "# SIGTERM to jobdash alone: it stops its tasks itself within --grace.",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={a.grace + STOP_MARGIN:g}",
        "Restart=on-failure",
        "RestartSec=5",
        "",
        "[Install]",
        f"WantedBy={'default.target' if a.user else 'multi-user.target'}",
    ]
    return "\n".join(lines) + "\n"


def cmd_systemd_unit(a: argparse.Namespace) -> int:
    sys.stdout.write(unit_text(a))
    return EXIT_OK
