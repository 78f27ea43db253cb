"""A full disk, for real: the store on a small tmpfs, filled up while `jobdash serve` runs a
job that prints. The engine says so once per distinct failure (not a traceback a second),
holds the job's output within its bound (the command then waits on its pipe), writes it all
once space returns, and always ends on SIGTERM."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobdash.core.store.sql.flush import MAX_BUFFERED_LINES
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

# Waits for a flag file, then prints `count` numbered lines (-1: until stopped, slowly).
TALK = """
import os, sys, time
go, count = sys.argv[1], int(sys.argv[2])
while not os.path.exists(go):
    time.sleep(0.05)
i = 0
while i != count:
    print("line", i, flush=count < 0)
    i += 1
    if count < 0:
        time.sleep(0.01)
"""
LINES = 3 * MAX_BUFFERED_LINES  # more than the engine holds: the rest waits in the pipe


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 16 MiB tmpfs of our own (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        reason = "not root: cannot mount a small filesystem to fill"
        print(f"skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    mnt = Path(tempfile.mkdtemp(prefix="jobdash-disk-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mnt.rmdir()
        reason = f"cannot mount a tmpfs: {done.stderr.strip()}"
        print(f"skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    try:
        yield mnt
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        mnt.rmdir()


def fill(folder: Path) -> Path:
    """Write zeros until the filesystem is full (ENOSPC)."""
    filler = folder / "filler"
    chunk = b"\0" * (64 << 10)
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


class Engine:
    """`jobdash serve` in its own process; its stderr lines collected as they come."""

    def __init__(self, db: Path, config: Path) -> None:
        argv = ["--db", str(db), "--config", str(config), "serve", "--grace", "1"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobdash", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if text in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in {self.lines}")

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def stop(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:  # a failed test: leave no engine behind
            self.proc.kill()
            self.proc.wait()


def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def status(db: Path) -> str:
    listed = run_cli("--db", str(db), "jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    return str(json.loads(listed.stdout)[0]["status"])


def logged_numbers(db: Path) -> list[int]:
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT text FROM logs WHERE job_id = 1 ORDER BY seq").fetchall()
    finally:
        con.close()
    return [int(t.split()[1]) for (t,) in rows if t.startswith("line ")]


def setup(tmp_path: Path, disk: Path, count: int) -> tuple[Path, Path, Path]:
    script = tmp_path / "talk.py"
    script.write_text(TALK)
    go = tmp_path / "go"
    config = tmp_path / "jobdash.toml"
    config.write_text(
        f'[types.talk]\ncommand = ["{sys.executable}", "-u", "{script}", "{go}", "{count}"]\n'
    )
    return disk / "store.db", config, go


def test_a_full_disk_is_one_line_per_failure_and_the_engine_recovers(
    tmp_path: Path, small_disk: Path
) -> None:
    db, config, go = setup(tmp_path, small_disk, LINES)
    with Engine(db, config) as engine:
        engine.wait_for("jobdash serve: agent")
        assert run_cli("--db", str(db), "--config", str(config), "run", "talk").returncode == 0
        until(lambda: status(db) == "running", 30, "the job to start")
        filler = fill(small_disk)
        go.touch()  # the job now prints its lines, as fast as they are read
        full = engine.wait_for("database or disk is full")
        assert re.search(r"retrying every 1 s(; [0-9]+ log lines? held)?$", full), full
        held = engine.wait_for("the most jobdash holds", timeout=60)
        assert int(held.split()[2]) >= MAX_BUFFERED_LINES  # "jobdash jobdash.store: N log lines"
        time.sleep(4)  # several retries of every writer: still one line each
        assert engine.count("database or disk is full") == 1
        assert engine.count("the most jobdash holds") == 1
        assert not any("Traceback" in line for line in engine.lines)

        filler.unlink()
        engine.wait_for("writes work again after", timeout=30)

        until(lambda: status(db) == "succeeded", 60, "the job to end once the disk has room")
        # Every line the job printed, once and in order: nothing was dropped while full.
        assert logged_numbers(db) == list(range(LINES))
        assert engine.stop() == 0
    assert engine.count("database or disk is full") == 1
    assert engine.count("writes work again") == 1
    assert not any("Traceback" in line for line in engine.lines)


def test_sigterm_on_a_full_disk_ends_the_engine_and_says_what_was_lost(
    tmp_path: Path, small_disk: Path
) -> None:
    db, config, go = setup(tmp_path, small_disk, -1)  # prints until stopped
    go.touch()
    with Engine(db, config) as engine:
        engine.wait_for("jobdash serve: agent")
        assert run_cli("--db", str(db), "--config", str(config), "run", "talk").returncode == 0
        until(lambda: len(logged_numbers(db)) > 10, 30, "the job's first lines")
        filler = fill(small_disk)
        engine.wait_for("database or disk is full")
        assert engine.stop(timeout=30) == 2
        last = engine.lines[-1]
        assert last.startswith(f"jobdash: {db}: database or disk is full: ")
        assert last.endswith("log lines held in memory could not be written")
        assert not any("Traceback" in line for line in engine.lines)
    filler.unlink()
    # The store itself is whole: what was committed before the disk filled is there.
    assert run_cli("--db", str(db), "jobs").returncode == 0
    numbers = logged_numbers(db)
    assert numbers == list(range(len(numbers))) and numbers
