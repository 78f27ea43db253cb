"""Output without a terminal, through the real `jobdash` command: piped (stdout a pipe), a
listing is written whole (no value cut to "TAR…", no column wrapped into 5-character
strips), and every command that prints data has `--json`. In a pty of 80 columns the same
listings still fit the terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.conftest import run_cli, start_serve

LONG_PATH = "/srv/archive/" + "/".join(f"department-{i}" for i in range(8)) + "/incoming"
LONG_TEXT = (
    "Imports every CSV file of the folder into the archive, one task per file, "
    "checking each header first; nothing is deleted"
)
CONFIG = f"""\
[types.import-files]
description = "{LONG_TEXT}"
params.source = {{ default = "/srv/in", help = "the folder to import from" }}
params.mode = {{ default = "careful" }}
items = ["a", "b", "c"]
command = ["echo", "imported {{item}} from {{source}}"]
locks = ["folder:{{source}}"]
exclusive = true
parallel = 2
schedule = "interval: 1h"

[types.short]
command = ["true"]
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@pytest.fixture
def store(write_config: Callable[[str], Path]) -> int:
    """The test's store with one queued import job (no engine runs it); its id."""
    write_config(CONFIG)
    done = run_cli("run", "import-files", "-p", f"source={LONG_PATH}")
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[1])


def piped(*argv: str) -> list[str]:
    """stdout lines of the real command with stdout a pipe (as in `jobdash … | cat`)."""
    done = run_cli(*argv, env={"COLUMNS": "", "LINES": ""})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout.splitlines()


def in_pty(*argv: str, columns: int = 80, rows: int = 24, timeout: float = 60) -> list[str]:
    """stdout lines of the real command in a pseudo-terminal of `columns` x `rows`, with
    colours and styles taken out."""
    text = ANSI.sub("", pty_bytes(*argv, columns=columns, rows=rows, timeout=timeout).decode())
    return text.replace("\r\n", "\n").splitlines()


def pty_bytes(
    *argv: str,
    columns: int = 80,
    rows: int = 24,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    keys: bytes = b"",
    stderr: bool = False,
) -> bytes:
    """What the real command wrote to a pseudo-terminal of `columns` x `rows` (`env`: added
    to the environment; `keys`: typed once it has drawn; `stderr`: on the terminal too, as
    the dashboard needs), escapes and all."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    full_env["TERM"] = "xterm-256color"
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdash", *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave if stderr else subprocess.DEVNULL,
        env=full_env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    typed_at = None  # when `keys` are typed: 3 s after the first output (a whole screen)
    try:
        while time.monotonic() < deadline:
            if keys and typed_at is not None and time.monotonic() >= typed_at:
                os.write(master, keys)
                keys = b""
            if not select.select([master], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not data:
                break
            chunks.append(data)
            typed_at = typed_at or time.monotonic() + 3.0
    finally:
        os.close(master)
        assert proc.wait(timeout=10) == 0
    return b"".join(chunks)


# ------------------------------------------------------------------------------- piped


def test_types_piped_keeps_each_type_on_one_whole_line(store: int) -> None:
    lines = piped("types")
    header = lines[0].split()
    assert header[0] == "TYPE" and header[-3:] == ["DESCRIPTION", "DEFINED", "IN"]
    assert len(header) == 10
    assert len(lines) == 3  # a header and one line per type: nothing wrapped
    row = next(line for line in lines if line.startswith("import-files "))
    assert f"{LONG_TEXT} " in row  # whole, then where the type is declared
    assert re.search(r"\.toml:\d+$", row), row
    assert "source mode" in row and "exclusive, lock folder:{source}" in row
    assert "interval: 1h" in row


def test_jobs_and_show_piped_write_whole_values(store: int) -> None:
    lines = piped("jobs")
    assert lines[0].split()[:3] == ["ID", "TYPE", "TARGET"]
    (row,) = (line for line in lines[1:] if line.split()[0] == str(store))
    assert LONG_PATH in row and "…" not in row
    # Columns line up: each value starts under its header.
    assert row.index(LONG_PATH) == lines[0].index("TARGET")
    assert lines[0].index("USER") == row.index("root", row.index(LONG_PATH))
    shown = piped("show", str(store))
    assert any(line.endswith(f"source={LONG_PATH} mode=careful") for line in shown)
    assert not any(line.endswith(" ") for line in lines)  # no padding after the last value


def test_piped_output_does_not_depend_on_columns(store: int) -> None:
    narrow = run_cli("jobs", env={"COLUMNS": "30"})
    assert narrow.returncode == 0
    assert narrow.stdout.splitlines() == piped("jobs")


# -------------------------------------------------------------------------- a terminal


def test_in_an_80_column_terminal_listings_fit_it(store: int) -> None:
    lines = in_pty("jobs")
    assert lines[0].split()[:3] == ["ID", "TYPE", "TARGET"]
    assert all(cell_len(line) <= 80 for line in lines), lines
    (row,) = (line for line in lines[1:] if line.split()[0] == str(store))
    assert "…" in row and LONG_PATH not in row  # the free-text column gave way
    assert "queued" in row  # the fixed columns did not
    for argv in (["types"], ["show", str(store)]):
        shown = in_pty(*argv)
        assert shown and all(cell_len(line) <= 80 for line in shown), shown


# ------------------------------------------------------------------------------- --json


def test_json_of_run_check_logs_and_the_listings(store: int) -> None:
    done = run_cli("run", "short", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["type"] == "short" and job["status"] == "queued" and job["id"] > store
    check = json.loads("\n".join(piped("check", "--json")))
    assert check["ok"] is True and check["types"] == ["import-files", "short"]
    assert check["config"].endswith("jobdash.toml")
    for argv in (["show", str(store)], ["jobs"], ["types"], ["agents"], ["schedules"]):
        json.loads("\n".join(piped(*argv, "--json")))
    assert piped("logs", str(store), "--json") == []  # queued: no lines yet, and no noise
    done = run_cli("run", "short", "--json", "--follow")
    assert done.returncode == 2 and "--wait" in done.stderr  # refused, nothing submitted
    assert len(json.loads("\n".join(piped("jobs", "--json")))) == 2


@pytest.fixture
def engine(store: int, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `jobdash serve` on the test's store."""
    proc = start_serve(tmp_path / "serve.log", "--slots", "4")
    yield proc
    proc.kill()
    proc.wait(10)


def test_run_wait_json_prints_the_finished_job_and_logs_json_lines(
    engine: subprocess.Popen[bytes],
) -> None:
    done = run_cli("run", "import-files", "-p", "source=/tmp/x", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["succeeded"] == job["total"] == 3
    lines = piped("logs", str(job["id"]), "--json")
    records = [json.loads(line) for line in lines]  # JSON lines: one object a line
    texts = sorted(r["text"] for r in records if r["stream"] == "stdout")
    assert texts == [f"imported {item} from /tmp/x" for item in "abc"]
    assert {r["job_id"] for r in records} == {job["id"]}
    schedules = json.loads("\n".join(piped("schedules", "--json")))
    assert [s["id"] for s in schedules] == ["import-files"]
    shown = json.loads("\n".join(piped("schedule", "show", "import-files", "--json")))
    assert shown["effective"] == "interval: 1h" and isinstance(shown["ticks"], list)
    agents = json.loads("\n".join(piped("agents", "--json")))
    assert len(agents) == 1 and agents[0]["slots"] == 4
