"""The CLI fuzzer: command lines drawn from the real parser (tests/fuzz/argv.py) against a
real store holding a few jobs (three run to the end by a real engine, one queued, a
published schedule), each on a fresh copy of it. Every one must end (no hang) with exit
status 0, 1 or 2, print no traceback and no "internal error" (the CLI's last resort, which
means a bug), say a usage error in one line, and leave the store whole: it opens, passes
SQLite's integrity check and still holds its jobs (`clear` may remove the finished ones).

In bulk the command lines run in this process through `jobdash.cli.main`, the function the
`jobdash` script runs (argparse's exits included); commands that wait by design (`serve`,
`agent`, `web`, `run --wait`/`--follow`, `logs -f`) run only as real processes, in the sample that
runs every kind of command line as a subprocess and stops the waiting ones with Ctrl-C
(SIGINT), as a user would.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobdash import cli
from tests.conftest import run_cli, start_serve
from tests.fuzz.argv import argv as draw_argv

CONFIG = """\
[types.quick]
command = ["true"]

[types.echo]
params.word = { required = true }
params.times = { default = "1" }
items = ["1", "2"]
command = ["echo", "{word}", "{item}"]

[types.nightly]
command = ["true"]
schedule = "cron: 0 3 * * *"
"""
# A longer or other run by hand: JOBDASH_FUZZ_EXAMPLES=20000 JOBDASH_FUZZ_SEED=7 pytest …
IN_PROCESS = int(os.environ.get("JOBDASH_FUZZ_EXAMPLES", 600))  # run through cli.main
SUBPROCESSES = max(30, IN_PROCESS // 15)  # run as real `jobdash` processes
SEED = int(os.environ.get("JOBDASH_FUZZ_SEED", 20261130))
WAIT_BEFORE_CTRL_C = 2.0  # seconds a command that waits by design gets before Ctrl-C
HANG = 60.0  # seconds after which any command line has hung


@dataclass
class Store:
    """The seeded store: its file, the config, and its jobs (id -> type, params, user,
    finished)."""

    db: Path
    config: Path
    jobs: dict[int, tuple[str, str, str, bool]]


def jobs_in(db: Path) -> dict[int, tuple[str, str, str, bool]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:  # the file itself, rows as written
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT id, type, params, user, status FROM jobs").fetchall()
    finished = ("succeeded", "warning", "failed", "cancelled")
    return {r[0]: (r[1], r[2], r[3], r[4] in finished) for r in rows}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("cli-fuzz-seed")
    config = folder / "jobdash.toml"
    config.write_text(CONFIG)
    db = folder / "live.db"
    env = {"JOBDASH_DB": str(db), "JOBDASH_CONFIG": str(config), "JOBDASH_USER": ""}
    serve = start_serve(folder / "serve.log", "--slots", "4", env=env)
    try:
        for args in (["quick"], ["echo", "-p", "word=hi"], ["echo", "-p", "word=\x1b[31mred"]):
            done = run_cli("run", *args, "--wait", env=env)
            assert done.returncode == 0, done.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, (folder / "serve.log").read_text()
    assert run_cli("run", "quick", env=env).returncode == 0  # stays queued: no engine
    # One clean file (no -wal beside it) to copy for each command line: SQLite's backup.
    template = folder / "seed.db"
    with (
        contextlib.closing(sqlite3.connect(db)) as src,
        contextlib.closing(sqlite3.connect(template)) as dst,
    ):
        src.backup(dst)
    jobs = jobs_in(template)
    assert len(jobs) == 4 and sum(finished for *_, finished in jobs.values()) == 3
    return Store(template, config, jobs)


@dataclass
class Outcome:
    argv: list[str]
    code: int | None
    stdout: str
    stderr: str
    interrupted: bool = False


def fresh(store: Store, folder: Path) -> Path:
    """A copy of the seeded store, as the command line's own."""
    db = folder / "store.db"
    for leftover in folder.glob("store.db*"):
        leftover.unlink()
    shutil.copyfile(store.db, db)
    db.chmod(0o600)  # as jobdash made it (a 0644 copy is made 0600, with a note)
    return db


def check(outcome: Outcome, store: Store, db: Path) -> str:
    """The fuzzer's assertions for one command line; returns its kind of ending."""
    short = [w if len(w) < 60 else w[:50] + f"…({len(w)})" for w in outcome.argv]
    shown = f"{short!r}: exit {outcome.code}\n{outcome.stderr[:2000]}"
    assert outcome.code is not None, f"hung: {shown}"
    for stream in (outcome.stdout, outcome.stderr):
        assert "Traceback" not in stream, shown
        assert "internal error" not in stream, shown
    allowed = {0, 1, 2} | ({130} if outcome.interrupted else set())
    assert outcome.code in allowed, shown
    if outcome.code == 2:
        lines = outcome.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("jobdash"), shown
    after = jobs_in(db)
    cleared = outcome.code == 0 and "clear" in outcome.argv
    for job_id, (kind, params, user, finished) in store.jobs.items():
        if job_id not in after:
            assert cleared and finished, f"job {job_id} lost: {shown}"
        else:
            assert after[job_id][:3] == (kind, params, user), f"job {job_id} changed: {shown}"
    return {0: "ok", 1: "refused", 2: "bad input", 130: "ctrl-c"}[outcome.code]


def parsed(argv: list[str]) -> argparse.Namespace | None:
    """The command line as the CLI reads it, or None if it does not parse."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return cli.parse_args(argv)
        except SystemExit:
            return None


def waits_by_design(argv: list[str]) -> bool:
    """Whether the command line, if it parses, runs until stopped or until a job ends."""
    a = parsed(argv)
    if a is None:
        return False
    command = a.command
    if command == "serve" or (command == "agent" and not a.action and not a.target):
        return True
    if command == "web":
        return not a.hash_password
    return (command == "run" and (a.wait or a.follow)) or (command == "logs" and a.follow)


def in_process(argv: list[str]) -> Outcome:
    """`jobdash ARGV` through `cli.main`, as the `jobdash` script runs it (sys.exit of its
    result; argparse's own exits), in a thread so that a hang is seen and not waited out."""
    stdout, stderr = io.StringIO(), io.StringIO()
    result: list[int | None] = [None]

    def run() -> None:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code: Any = cli.main(argv)
            except SystemExit as exc:
                code = exc.code
            except BaseException:
                import traceback

                stderr.write(traceback.format_exc())
                code = 1
        result[0] = 0 if code is None else code

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    return Outcome(argv, result[0], stdout.getvalue(), stderr.getvalue())


def has_open(pid: int, path: Path | None) -> bool:
    """Whether process `pid` has the file open (its store: its command is under way), or
    with no path a socket (`web`, which holds its store only for a moment at start: its
    event loop's, then the port it listens on)."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    if path is None:
        return any(link.startswith("socket:") for link in links)
    return str(path.resolve()) in links


def as_process(argv: list[str], env: dict[str, str], cwd: Path) -> Outcome:
    """`jobdash ARGV` as a real process; one that waits by design gets Ctrl-C after a while."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdash", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        cwd=cwd,
    )
    interrupted = False
    db = Path(env["JOBDASH_DB"])
    try:
        try:
            out, err = proc.communicate(timeout=WAIT_BEFORE_CTRL_C)
        except subprocess.TimeoutExpired:
            if not waits_by_design(argv):
                out, err = proc.communicate(timeout=HANG)
            else:
                # Ctrl-C once it works on the store: not while Python still imports.
                deadline = time.monotonic() + HANG
                a = parsed(argv)
                works_on = None if a is not None and a.command == "web" else db
                while not has_open(proc.pid, works_on) and time.monotonic() < deadline:
                    time.sleep(0.05)
                interrupted = True
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Outcome(argv, None, out.decode(errors="replace"), err.decode(errors="replace"))
    return Outcome(
        argv,
        proc.returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        interrupted,
    )


@pytest.fixture
def workdir(tmp_path: Path, seeded: Store, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JOBDASH_DB", str(tmp_path / "store.db"))
    monkeypatch.setenv("JOBDASH_CONFIG", str(seeded.config))
    return tmp_path


@pytest.mark.slow
def test_cli_fuzz_in_process(seeded: Store, workdir: Path) -> None:
    rng = random.Random(SEED)
    kinds: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    while kinds.total() < IN_PROCESS:
        argv = draw_argv(rng)
        if waits_by_design(argv):
            continue  # the subprocess sample runs these
        db = fresh(seeded, workdir)
        kinds[check(in_process(argv), seeded, db)] += 1
        commands[next((w for w in argv if w in cli.COMMANDS), "?")] += 1
    # Not vacuous: every command was tried, and runs as well as refusals were seen.
    assert set(cli.COMMANDS) - {"serve"} <= set(commands), commands
    assert kinds["ok"] >= IN_PROCESS // 10 and kinds["bad input"] >= IN_PROCESS // 10, kinds
    # Exit status 1 is a refusal of an action on a real job in a state that forbids it (an
    # unknown id, another user's job, a missing artifact are bad input, 2): a few in a run.
    assert kinds["refused"] >= 3, kinds
    done = run_cli("jobs", "--all", "--json")  # the last store opens in a real process
    assert done.returncode == 0 and json.loads(done.stdout), done.stderr


@pytest.mark.slow
def test_cli_fuzz_as_processes(seeded: Store, workdir: Path) -> None:
    rng = random.Random(SEED + 1)
    env = {"JOBDASH_DB": str(workdir / "store.db"), "JOBDASH_CONFIG": str(seeded.config)}
    kinds: Counter[str] = Counter()
    waited = 0
    for i in range(SUBPROCESSES):
        argv = draw_argv(rng)
        # A third of the sample waits by design: serve, agent, run --wait, logs -f.
        while i % 3 == 0 and not waits_by_design(argv):
            argv = draw_argv(rng)
        waited += waits_by_design(argv)
        db = fresh(seeded, workdir)
        kinds[check(as_process(argv, env, workdir), seeded, db)] += 1
    assert waited >= SUBPROCESSES // 3 and kinds["ok"] and kinds["bad input"], kinds
