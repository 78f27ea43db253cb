"""A command that writes checks every page of its store first (`PRAGMA quick_check`:
seconds on a store of millions of jobs), unless an engine writes the store now: that engine
checked the whole file when it opened it and has written it since, every page it writes
checked by SQLite as it goes, and a command's write beside it is held to the same. An
engine killed a moment ago, or one that stopped, is no such engine: the file is checked.

What is read is counted by the kernel (`/proc/self/io`'s rchar: every byte SQLite reads
from the file, page cache or not), with a real `jobdash serve` beside the store."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

from jobdash.core.store.sqlite import files
from jobdash.core.store.sqlite.schema import SCHEMA_VERSION
from tests.conftest import run_cli, start_serve
from tests.test_store_faults import CONFIG, TIMEOUT, fill_store


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def read_by_check(db: Path) -> int:
    """Bytes this process reads to check `db` before a write, as a writing command does."""
    before = bytes_read()
    assert files.read_version(db, whole=True) == SCHEMA_VERSION
    return bytes_read() - before


def agent_states(db: Path) -> list[str]:
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT state FROM agents")]
    finally:
        con.close()


def serve_on(tmp_path: Path, db: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "jobdash.toml"
    return start_serve(tmp_path / "serve.log", "--db", str(db), "--config", str(config))


async def test_a_command_beside_a_live_engine_does_not_read_the_whole_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.db"
    await fill_store(db, 400)
    size = db.stat().st_size
    assert size > 1_000_000
    (tmp_path / "jobdash.toml").write_text(CONFIG)
    assert read_by_check(db) >= size  # no engine: every page

    serve = serve_on(tmp_path, db)
    try:
        assert read_by_check(db) < size / 10  # a few pages: the engine's row
        done = run_cli("--db", str(db), "--config", str(tmp_path / "jobdash.toml"), "run", "hello")
        assert done.returncode == 0, done.stderr
        # Killed: its row still has a fresh heartbeat, but no process of this host has it.
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(TIMEOUT)
        assert agent_states(db) != ["offline"]
        assert read_by_check(db) >= size
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()

    # An engine that stopped says so (offline): the file is checked again.
    serve = serve_on(tmp_path, db)
    assert read_by_check(db) < size / 10
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(TIMEOUT) == 0
    assert "offline" in agent_states(db)
    assert read_by_check(db) >= size


async def test_an_engine_silent_past_its_heartbeats_is_not_taken_for_live(
    tmp_path: Path,
) -> None:
    """A stopped (SIGSTOP) engine keeps its process, but its heartbeat ages: past
    ENGINE_FRESH the file is checked again."""
    db = tmp_path / "store.db"
    await fill_store(db, 400)
    size = db.stat().st_size
    (tmp_path / "jobdash.toml").write_text(CONFIG)
    serve = serve_on(tmp_path, db)
    try:
        os.kill(serve.pid, signal.SIGSTOP)
        assert read_by_check(db) < size / 10
        await asyncio.sleep(files.ENGINE_FRESH + 0.5)
        assert read_by_check(db) >= size
    finally:
        os.kill(serve.pid, signal.SIGCONT)
        serve.kill()
        serve.wait()
