"""What an outside attack on the command line found, with real `jobdash` processes, a real
store, real pipes and a real pseudo-terminal:

- `export` on a terminal prints job text inert (CSV and JSON, `-o -` too); into a pipe or
  a file it stays data;
- the dashboard without a terminal is one line (exit 2), before any store is created;
- a keymap with an unknown binding id or a key Textual never reports is refused by
  `check` (and `check --json`) and at the dashboard's start, one line naming the file, the
  id and the key;
- task labels are whole piped (`logs`, `run --follow`), cut only on a terminal;
- one long parameter does not widen every row of `jobs`; `show` and `--json` keep it whole;
- a repeated `-p` is refused; `--help` names `agent drain|undrain`; `jobs` leaves STARTED
  blank for a job that has not started; a waiting job's reason leads with what is wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobdash.present.logs import LABEL_WIDTH
from tests.conftest import run_cli, start_serve
from tests.test_agents import FAST
from tests.test_untrusted_text import SGR, raw_control, run_piped, run_tty

OSC52 = "\x1b]52;c;Zm9v\x07"  # a clipboard write
CELL_LIMIT = 200  # cells of one value a listing shows (README, "Using it")
CONFIG = """\
[types.evil]
params.p = { default = "x" }
target = "p"
command = ["true"]

[types.batch]
items = ["/srv/incoming/2026-11-20/batch-000123-of-a-long-import.csv",
         "/srv/incoming/2026-11-20/batch-000124-of-a-long-import.csv"]
parallel = 2
command = ["sh", "-c", "echo reading {item}"]

[types.slow]
command = ["sleep", "30"]
"""


@pytest.fixture
def config(write_config: Callable[[str], Path]) -> Path:
    return write_config(CONFIG)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def submit(*args: str) -> int:
    done = run_cli("run", *args, "--json")
    assert done.returncode == 0, done.stderr
    job_id: int = json.loads(done.stdout)["id"]
    return job_id


# --------------------------------------------------------------------------- 1. export


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_on_a_terminal_is_inert_and_data_in_a_pipe(config: Path, fmt: str) -> None:
    submit("evil", "-p", f"p=mine{OSC52}")
    for args in (("export", "--format", fmt), ("export", "--format", fmt, "-o", "-")):
        status, text = run_tty(*args)
        assert status == 0, text
        plain = SGR.sub("", text)
        assert raw_control(plain) == [], plain
        if fmt == "csv":  # the target cell, as a terminal shows it
            assert "mine␛]52;c;Zm9v␇" in plain, plain
    # Into a pipe it is the data as stored (CSV: with the formula rule only).
    done = run_piped("export", "--format", fmt)
    assert done.returncode == 0, done.stderr
    if fmt == "csv":
        assert f"mine{OSC52}".encode() in done.stdout
    else:
        assert json.loads(done.stdout)[0]["params"] == {"p": f"mine{OSC52}"}


# --------------------------------------------------------------------------- 5. no terminal


def test_the_dashboard_without_a_terminal_is_one_line_and_creates_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "new.db"
    done = subprocess.run(
        [sys.executable, "-m", "jobdash", "--db", str(db)],
        input=b"\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr.decode())
    assert "needs a terminal" in line and "standard input" in line, line
    assert "jobdash jobs" in line and "jobdash serve" in line, line
    assert done.stdout == b"" and not db.exists()

    # Keys from a terminal but the screen into a file: refused as well, naming the stream.
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "jobdash", "--db", str(db)],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=60,
            check=False,
        )
        os.close(slave)
        said = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(master)
    assert done.returncode == 2, said
    assert "standard output is not" in one_line(said.decode()), said
    assert done.stdout == b"" and not db.exists()


# --------------------------------------------------------------------------- 4. keymap

BAD_KEYMAPS = [
    ('"job.cancel" = "\\u001b]0;pwned\\u0007"', "job.cancel", "␛]0;pwned␇"),
    ('"job.pause" = "nonsense-key-name"', "job.pause", "nonsense-key-name"),
    ('"nonexistent.id" = "k"', "nonexistent.id", '"k"'),
    ('"job.pause" = "ctrl+P"', "job.pause", "ctrl+P"),
    ('"job.retry" = "x,"', "job.retry", "empty"),
]


@pytest.mark.parametrize(
    "entry, binding, key",
    BAD_KEYMAPS,
    ids=["escape", "not-a-key", "unknown-id", "upper-case-with-ctrl", "empty"],
)
def test_a_bad_keymap_is_refused_by_check_and_at_start(
    tmp_path: Path, entry: str, binding: str, key: str
) -> None:
    config = tmp_path / "keys.toml"
    config.write_text(f"[keymap]\n{entry}\n")
    dashboard = ("--db", str(tmp_path / "x.db"))  # a new store: it must not be created
    for args in (("check",), ("check", "--json"), dashboard):
        done = run_cli(*args, "--config", str(config))
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        line = one_line(done.stderr)
        assert str(config) in line and binding in line and key in line, line
        assert raw_control(line) == [] and done.stdout == "", line
    assert not (tmp_path / "x.db").exists()


def test_keys_textual_knows_are_accepted(tmp_path: Path) -> None:
    config = tmp_path / "keys.toml"
    config.write_text(
        '[keymap]\n"job.cancel" = "k"\n"job.pause" = "ctrl+shift+p,f5"\n'
        '"job.retry" = "exclamation_mark"\n"tab.next" = "tab,right_square_bracket"\n'
        '"log.follow" = "L"\n"job.copy" = "alt+up"\n'
    )
    done = run_cli("check", "--config", str(config))
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- 6. task labels


@contextlib.contextmanager
def serving(log: Path, *args: str) -> Iterator[None]:
    """A real `jobdash serve` while the block runs."""
    proc = start_serve(log, *args, env=FAST)
    try:
        yield
    finally:
        proc.kill()
        proc.wait(10)


WHOLE = re.compile(r"^#([12]) (/srv/incoming/2026-11-20/batch-00012[34]-of-a-long-import\.csv) \| ")


def check_whole_labels(out: str) -> None:
    lines = [line for line in out.splitlines() if "reading" in line]
    assert len(lines) == 2, out
    for line in lines:
        m = WHOLE.match(line)
        assert m, line
        assert line.endswith(f"reading {m.group(2)}"), line  # the label is its task's


def test_piped_logs_keep_whole_task_labels_a_terminal_cuts_them(
    config: Path, tmp_path: Path
) -> None:
    with serving(tmp_path / "serve.log", "--slots", "4"):
        done = run_cli("run", "batch", "--follow", timeout=60)
    assert done.returncode == 0, done.stderr
    check_whole_labels(done.stdout)
    job = re.search(r"job (\d+) succeeded", done.stdout)
    assert job, done.stdout
    done = run_cli("logs", job.group(1))
    assert done.returncode == 0, done.stderr
    check_whole_labels(done.stdout)
    status, text = run_tty("logs", job.group(1))
    assert status == 0, text
    lines = [SGR.sub("", line) for line in text.splitlines() if "|" in line]
    assert all(line.startswith("  ") for line in lines), lines  # the gutter: output lines
    labels = [line[2:].split(" | ")[0] for line in lines]
    assert len(labels) == 2 and all(len(label) == LABEL_WIDTH for label in labels), labels
    assert all(label.endswith("…") for label in labels), labels


# --------------------------------------------------------------------------- 7. long values


def test_one_long_parameter_does_not_widen_every_row(config: Path) -> None:
    huge = "a" * 120_000
    big = submit("evil", "-p", f"p={huge}")
    for _ in range(3):
        submit("evil")
    done = run_cli("jobs")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert len(rows) == 5, rows  # a header and four jobs
    assert max(map(len, rows)) < 2 * CELL_LIMIT + 100, [len(r) for r in rows]
    assert "a" * (CELL_LIMIT - 1) + "…" in done.stdout
    # `show` and --json keep it whole.
    done = run_cli("show", str(big))
    assert huge in done.stdout
    listed = {job["id"]: job for job in json.loads(run_cli("jobs", "--json").stdout)}
    assert listed[big]["target"] == huge


# --------------------------------------------------------------------------- 8. smaller


def test_a_repeated_parameter_is_refused(config: Path) -> None:
    done = run_cli("run", "evil", "-p", "p=a", "-p", "p=b")
    assert done.returncode == 2, done.stdout
    line = one_line(done.stderr)
    assert "'p'" in line and "twice" in line and "'a'" in line and "'b'" in line, line
    assert json.loads(run_cli("jobs", "--json").stdout) == []  # nothing was submitted


def test_help_names_the_agent_subcommands() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    agent = next(line for line in done.stdout.splitlines() if line.strip().startswith("agent "))
    assert "drain" in agent and "undrain" in agent, agent


def test_jobs_leaves_started_blank_for_a_job_not_started(config: Path) -> None:
    submit("evil")  # no engine: it stays queued
    done = run_cli("jobs")
    header, row = done.stdout.splitlines()
    start = header.index("STARTED")
    end = header.index("TIME", start)
    assert row[start:end].strip() == "", (header, row)


def test_a_waiting_jobs_reason_leads_with_what_is_wrong(config: Path, tmp_path: Path) -> None:
    with serving(tmp_path / "serve.log", "--slots", "2", "--name", "only"):
        done = run_cli("agent", "drain", "only")
        assert done.returncode == 0, done.stderr
        drained = time.time()
        deadline = time.monotonic() + 30
        # The agent takes the drain with its next heartbeat.
        while json.loads(run_cli("agents", "--json").stdout)[0]["heartbeat"] < drained + 0.5:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.1)
        job = submit("slow")
        while "draining" not in (info := run_cli("show", str(job), "--json").stdout):
            assert time.monotonic() < deadline, info
            time.sleep(0.1)
        reason = "agents draining: all 1 live agent"
        assert json.loads(info)["info"] == reason
        # A narrow info column shows the first words: they say what is wrong.
        status, text = run_tty("jobs", columns=120)
        assert status == 0, text
        row = next(line for line in SGR.sub("", text).splitlines() if "running" in line)
        assert row.endswith(reason), row
