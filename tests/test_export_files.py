"""Files jobdash writes (exports, saved logs) with real processes and real files:

- CSV cells that a spreadsheet would run as formulas are neutralised (OWASP: a leading
  quote), in `jobdash export` and the dashboard's `e` alike;
- what is already at the target of `export -o` survives: a device, a FIFO and a symlink
  are written through, a regular file is replaced atomically, a folder or a missing folder
  is refused with one line (exit 2), a pipe nobody reads is refused instead of hanging; the
  dashboard's files (names jobdash chose) are always new files beside what is there;
- files holding job output are 0600 whatever the umask;
- a saved log keeps each line's time (ISO 8601 with offset), task and stream.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.conftest import run_cli
from tests.tui.app_harness import NOW, build_store, frozen, write_config

CONFIG = """\
[types.report]
command = ["true"]
"""
FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
HEADER = "startDate,endDate,jobName,jobStatus,jobInfo,jobUser"


def export_cli(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """`jobdash export ARGS` as a real process with the given umask (its output decoded
    as written: a CR stays a CR)."""
    done = subprocess.run(
        [sys.executable, "-m", "jobdash", "export", *args],
        capture_output=True,
        umask=umask,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def jobs(write_config: Callable[[str], Path]) -> None:
    """Six jobs whose type, info, user, target and parameters start like a formula."""
    write_config(CONFIG)
    for _ in FORMULAS:
        done = run_cli("run", "report")
        assert done.returncode == 0, done.stderr
    # SQLite poke: a finished job's info is its settle line; only the file takes a formula.
    con = sqlite3.connect(os.environ["JOBDASH_DB"])
    with con:
        for jid, evil in enumerate(FORMULAS, 1):
            con.execute(
                "UPDATE jobs SET type = ?, info = ?, target = ?, status = 'succeeded', "
                "started = ?, finished = ? WHERE id = ?",
                (evil, evil, evil, time.time() - 10, time.time(), jid),
            )
    con.close()


def check_neutralised(text: str) -> None:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        evil = FORMULAS[int(row["id"]) - 1]
        for column in ("jobName", "jobInfo", "target"):
            assert row[column] == "'" + evil, (column, row[column])
        for cell in row.values():
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def test_export_neutralises_formulas(jobs: None, tmp_path: Path) -> None:
    done = export_cli()
    assert done.returncode == 0, done.stderr
    check_neutralised(done.stdout)
    out = tmp_path / "history.csv"
    done = export_cli("-o", str(out))
    assert done.returncode == 0, done.stderr
    check_neutralised(out.read_bytes().decode())
    # JSON is data for programs, not a spreadsheet: kept as it is.
    done = export_cli("--format", "json")
    assert FORMULAS[0] in {j["type"] for j in json.loads(done.stdout)}


def test_export_replaces_a_regular_file_atomically_and_0600(jobs: None, tmp_path: Path) -> None:
    out = tmp_path / "history.csv"
    out.write_text("old\n")
    out.chmod(0o644)
    inode = out.stat().st_ino
    done = export_cli("-o", str(out), umask=0o022)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith(HEADER)
    assert out.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    new = tmp_path / "new.csv"
    done = export_cli("-o", str(new), umask=0o022)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if ".csv" in p.name) == [
        "history.csv",
        "new.csv",
    ]  # no temporary file left behind


def test_export_writes_through_a_symlink(jobs: None, tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    done = export_cli("-o", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith(HEADER)


def test_export_writes_into_a_fifo(jobs: None, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the reader is there first
    try:
        done = export_cli("-o", str(fifo))  # a small export fits in the pipe's buffer
        received = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert done.returncode == 0, done.stderr
    assert received.decode().startswith(HEADER)
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe


def test_export_to_a_fifo_nobody_reads_is_refused_not_hung(jobs: None, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = export_cli("-o", str(fifo))
    assert done.returncode == 2
    assert "pipe" in one_line(done.stderr) and str(fifo) in done.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_export_writes_to_a_character_device(jobs: None, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a device node (mknod) needs root")
    null = tmp_path / "null"  # a copy of /dev/null (1,3): the real one is left alone
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    done = export_cli("-o", str(null))
    assert done.returncode == 0, done.stderr
    st = null.stat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("null", ".null"))) == [
        "null"
    ]


def test_export_dash_is_standard_output(jobs: None, tmp_path: Path) -> None:
    done = export_cli("-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(HEADER)
    assert not (tmp_path / "-").exists()


def test_export_refuses_a_folder_and_a_missing_folder(jobs: None, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    done = export_cli("-o", str(folder))
    assert done.returncode == 2
    assert "folder" in one_line(done.stderr) and str(folder) in done.stderr
    assert list(folder.iterdir()) == []
    missing = tmp_path / "missing" / "out.csv"
    done = export_cli("-o", str(missing))
    assert done.returncode == 2
    assert "does not exist" in one_line(done.stderr)
    assert not missing.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []


# --------------------------------------------------------------------------- dashboard


@pytest.fixture
def dash_db(tmp_path: Path) -> tuple[Path, Path]:
    """The dashboard harness's store; job 6 (4 tasks) gets lines from two of them and a
    formula in its info."""
    db = tmp_path / "app.db"
    config = write_config(tmp_path)
    build_store(db, config)
    con = sqlite3.connect(db)  # SQLite poke, as the harness: fixed line times, made-up jobs
    with con:
        con.execute("UPDATE jobs SET info = ? WHERE id = 6", (FORMULAS[0],))
        tasks = con.execute("SELECT id, seq FROM tasks WHERE job_id = 6 ORDER BY seq").fetchall()
        for (tid, seq), stream in zip(tasks[:2], ("stdout", "stderr"), strict=True):
            con.execute(
                "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (6, ?, ?, ?, ?)",
                (tid, NOW + seq, stream, f"line of task {seq}\x1b[31m"),
            )
    con.close()
    return db, config


@pytest.fixture
async def dash_service(dash_db: tuple[Path, Path]) -> AsyncIterator[Service]:
    db, config = dash_db
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    yield svc
    await svc.close()


@pytest.fixture
def umask_022() -> Any:
    old = os.umask(0o022)
    yield
    os.umask(old)


def make_app(svc: Service) -> JobdashApp:
    return JobdashApp(svc, embedded_engine=False, clock=frozen(), watch_interval=0.05)


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def toasts(app: JobdashApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_dashboard_export_is_0600_neutralised_and_never_over_what_is_there(
    dash_service: Service, tmp_path: Path, umask_022: None
) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(NOW))
    name = f"jobdash-export-{stamp}.csv"
    app = make_app(dash_service)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await until(pilot, lambda: dash.loaded)
        await pilot.press("e")
        await until(pilot, lambda: any("Exported 4 jobs" in m for m in toasts(app)))
        path = tmp_path / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode(), newline="")))
        assert {r["id"]: r["jobInfo"] for r in rows}["6"] == "'" + FORMULAS[0]

        # The name is jobdash's: whatever is at it (that file, a link, a folder) is left
        # alone and the next name is taken (see tests/tui/test_dashboard_attacks.py).
        target = tmp_path / "kept.csv"
        target.write_text("old\n")
        (tmp_path / f"jobdash-export-{stamp}-1.csv").symlink_to(target)
        (tmp_path / f"jobdash-export-{stamp}-2.csv").mkdir()
        await pilot.press("e")
        new = tmp_path / f"jobdash-export-{stamp}-3.csv"
        await until(pilot, lambda: any(m.endswith(str(new)) for m in toasts(app)))
        assert target.read_text() == "old\n"
        assert new.read_text().startswith(HEADER) and path.read_text().startswith(HEADER)


async def test_saved_log_has_time_task_stream_and_is_0600(
    dash_service: Service, tmp_path: Path, umask_022: None
) -> None:
    app = make_app(dash_service)
    path = tmp_path / "jobdash-job-6.log"
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_details(6)
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        await pilot.press("s")
        await until(pilot, lambda: any("Saved 2 lines" in m for m in toasts(app)))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = path.read_text().splitlines()
        assert len(lines) == 2
        for seq, (line, stream) in enumerate(zip(lines, ("stdout", "stderr"), strict=True), 1):
            at, task, saved_stream, text = line.split("\t")
            when = datetime.fromisoformat(at)
            assert when.utcoffset() is not None  # the offset is written
            assert when.timestamp() == pytest.approx(NOW + seq, abs=0.001)
            assert task == f"#{seq} {'abcd'[seq - 1]}.csv"
            assert saved_stream == stream
            assert text == f"line of task {seq}\x1b[31m"  # as the job printed it

        # A folder where the log would go: left alone, the next name is taken.
        path.unlink()
        path.mkdir()
        await pilot.press("s")
        await until(pilot, lambda: any(m.endswith("jobdash-job-6-1.log") for m in toasts(app)))
        assert list(path.iterdir()) == []
