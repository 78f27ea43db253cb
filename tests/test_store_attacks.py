"""What an outside attack on the store found, each fixed at its cause and proved here with
real processes, real files, real mounts and a real second OS user: a link beside a store
never makes jobdash (run as root) change or write the file it leads to; a store jobdash
creates or uses is 0600 whatever path leads to it; a store that cannot be written can still
be read, and a command that must write it says precisely why it cannot; `check` opens no
store; a store whose tables do not match its recorded version is refused before any
upgrade; store failures are said in good English; one rule for a config file named by
option or variable."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobdash.core.store.faults import FaultLog
from tests.conftest import run_cli
from tests.os_users import OsUser, other_user
from tests.test_agents import until
from tests.test_engine_attacks import Terminal
from tests.test_store_faults import CONFIG, digest, make_store_as, refused, sidecars

__all__ = ["other_user"]  # fixture

TIMEOUT = 30


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def said(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The notes jobdash wrote on stderr (not "no jobs match")."""
    return [ln for ln in done.stderr.splitlines() if ln.startswith("jobdash: ")]


def jobdash(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """The real CLI, under a usual umask (0644 for a file made without a mode)."""
    return run_cli(*args, umask=umask, timeout=TIMEOUT)


# --------------------------------------------------------------------------- links (1)


@pytest.mark.parametrize("suffix", ["-shm", "-wal"])
def test_a_link_beside_a_users_store_never_makes_root_change_its_target(
    other_user: OsUser, tmp_path: Path, suffix: str
) -> None:
    """The store's owner puts a link where SQLite keeps the -shm (or -wal) file, to a file
    of root's; root then opens the store. jobdash refuses, naming the link, and the file it
    leads to keeps its mode and content (it used to become 0600: a chmod through the link)."""
    db = make_store_as(other_user)
    victim = tmp_path / "victim"
    victim.write_text("root's own file\n")
    victim.chmod(0o644)
    side = Path(f"{db}{suffix}")
    side.symlink_to(victim)
    os.lchown(side, other_user.uid, other_user.gid)
    for command in (["jobs"], ["run", "hello"], ["serve", "--grace", "1"]):
        done = run_cli(
            "--db",
            str(db),
            "--config",
            str(other_user.home / "jobdash.toml"),
            *command,
            timeout=TIMEOUT,
        )
        assert mode(victim) == 0o644 and victim.read_text() == "root's own file\n"
        refused(done, f"{side}: a symbolic link", "does not follow it: remove it")
    refused(other_user.run("--db", str(db), "jobs", timeout=TIMEOUT), f"{side}: a symbolic link")
    # A hard link to root's file (where the kernel does not forbid making one): refused too,
    # never written (SQLite would write its frames into it) nor chmodded.
    side.unlink()
    os.link(victim, side)
    done = run_cli("--db", str(db), "run", "hello", timeout=TIMEOUT)
    assert mode(victim) == 0o644 and victim.read_text() == "root's own file\n"
    refused(done, f"{side}: a hard link")
    side.unlink()
    assert run_cli("--db", str(db), "jobs", timeout=TIMEOUT).returncode == 0


def test_root_creates_no_store_through_another_users_dangling_link(
    other_user: OsUser, tmp_path: Path
) -> None:
    """A link of the user's to a path that does not exist (say /etc/nologin): root
    following it would create that file."""
    target = tmp_path / "nologin"
    link = other_user.home / "store.db"
    link.symlink_to(target)
    os.lchown(link, other_user.uid, other_user.gid)
    refused(
        run_cli("--db", str(link), "jobs", timeout=TIMEOUT),
        f"{link}: a symbolic link of {other_user.name}'s to {target}, which does not exist",
        "only through a link of your own",
    )
    assert not target.exists()


# --------------------------------------------------------------------------- modes (4)


def test_a_store_jobdash_creates_or_uses_is_0600_whatever_leads_to_it(tmp_path: Path) -> None:
    # An empty file anyone may write: made 0600, then made a store; both said.
    empty = tmp_path / "f.db"
    empty.touch()
    empty.chmod(0o666)
    done = jobdash("--db", str(empty), "jobs")
    assert done.returncode == 0, done.stderr
    assert said(done) == [
        f"jobdash: made {empty} mode 0600 (it was 0666: others could read job output); "
        f"created store at {empty} (in the empty file there)"
    ]
    assert mode(empty) == 0o600
    # A store of ours that a copy or a chmod opened up: made 0600 at its next use, said
    # once. One its owner made read-only stays so, and is said as it is: 0400, not "0600".
    for opened, made in ((0o644, 0o600), (0o444, 0o400)):
        empty.chmod(opened)
        done = jobdash("--db", str(empty), "jobs")
        assert done.returncode == 0
        assert said(done) == [
            f"jobdash: made {empty} mode {made:04o} (it was {opened:04o}: others could read "
            "job output)"
        ]
        assert mode(empty) == made
        assert said(jobdash("--db", str(empty), "jobs")) == []
    empty.chmod(0o600)
    # A dangling link of our own: the store is made where it points, 0600, and said so.
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(folder / "new.db")
    done = jobdash("--db", str(link), "jobs")
    assert done.returncode == 0, done.stderr
    assert said(done) == [
        f"jobdash: created store at {link} (at {folder / 'new.db'}, where the link points)"
    ]
    assert mode(folder / "new.db") == 0o600
    # Whatever the umask.
    loose = tmp_path / "loose.db"
    assert jobdash("--db", str(loose), "jobs", umask=0).returncode == 0
    assert mode(loose) == 0o600


def test_root_makes_a_users_open_store_0600_and_leaves_it_the_users(
    other_user: OsUser,
) -> None:
    db = make_store_as(other_user)
    db.chmod(0o664)
    done = run_cli("--db", str(db), "jobs", timeout=TIMEOUT)
    assert done.returncode == 0 and "made" in done.stderr and "(it was 0664" in done.stderr
    st = db.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (other_user.uid, 0o600)
    assert other_user.run("--db", str(db), "jobs", timeout=TIMEOUT).returncode == 0


# --------------------------------------------------------------------------- read-only (6)


class Mount:
    """A small tmpfs of our own, or a bind mount of `source`, made read-only by `freeze`."""

    def __init__(self, source: Path | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="jobdash-ro-"))
        self.bind = source is not None
        how = ["--bind", str(source)] if source else ["-t", "tmpfs", "-o", "size=16m", "tmpfs"]
        done = subprocess.run(
            ["mount", *how, str(self.path)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            self.path.rmdir()
            reason = f"cannot mount: {done.stderr.strip()}"
            print(f"skipped: {reason}", file=sys.stderr)
            pytest.skip(reason)

    def freeze(self) -> None:
        options = "remount,bind,ro" if self.bind else "remount,ro"
        subprocess.run(["mount", "-o", options, str(self.path)], check=True)

    def remove(self) -> None:
        for _ in range(50):
            if subprocess.run(["umount", str(self.path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        self.path.rmdir()


@pytest.fixture
def mounts() -> Iterator[Callable[..., Mount]]:
    if os.geteuid() != 0:
        reason = "not root: cannot mount a read-only file system"
        print(f"skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    made: list[Mount] = []

    def make(source: Path | None = None) -> Mount:
        made.append(Mount(source))
        return made[-1]

    yield make
    for m in reversed(made):
        m.remove()


READING = [
    ["jobs", "--json"],
    ["show", "1"],
    ["logs", "1"],
    ["schedules"],
    ["agents"],
    ["types"],
    ["export"],
    ["export", "--format", "json"],
]


def store_with_a_job(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "made" / "store.db"
    db.parent.mkdir()
    assert run_cli("--db", str(db), "--config", str(config), "run", "hello").returncode == 0
    return db, config


def test_a_store_on_a_read_only_file_system_is_read_and_writes_say_why_not(
    tmp_path: Path, mounts: Callable[..., Mount]
) -> None:
    made, config = store_with_a_job(tmp_path)
    ro = mounts()
    shutil.copy2(made, ro.path / "s.db")
    ro.freeze()
    db = ro.path / "s.db"
    for command in READING:
        done = run_cli("--db", str(db), "--config", str(config), *command, timeout=TIMEOUT)
        assert done.returncode == 0 and "jobdash:" not in done.stderr, (command, done.stderr)
        assert "hello" in done.stdout or command[0] in ("logs", "schedules", "agents")
    jobs = json.loads(run_cli("--db", str(db), "jobs", "--json").stdout)
    assert [(j["id"], j["type"]) for j in jobs] == [(1, "hello")]
    for command in (["run", "hello"], ["cancel", "1"], ["clear"], ["serve", "--grace", "1"]):
        done = run_cli("--db", str(db), "--config", str(config), *command, timeout=TIMEOUT)
        refused(
            done,
            f"{db}: cannot write the store: it is on a read-only file system",
            "reading still works",
        )
    # The dashboard, read-only: it shows the store's job, then quits on `q`.
    term = Terminal("--db", str(db), "--config", str(config), "--read-only")
    try:
        term.wait_for("read-only")
        term.wait_for("hello")
        term.send("q")
        assert term.proc.wait(TIMEOUT) == 0
    finally:
        term.close()


def test_a_read_only_copy_of_a_live_store_is_read_with_its_wal(
    tmp_path: Path, mounts: Callable[..., Mount]
) -> None:
    """Copied while a writer had changes in its -wal: read with them (not the file alone,
    which would not show them); without the -shm file SQLite cannot read them here, and
    jobdash says so rather than show the store as it was before them."""
    made, _ = store_with_a_job(tmp_path)
    writer = sqlite3.connect(made, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE jobs SET info = 'changed in the wal'")
    with_shm, without_shm = mounts(), mounts()
    for name in ("store.db", "store.db-wal", "store.db-shm"):
        shutil.copy2(made.parent / name, with_shm.path / name)
        if name != "store.db-shm":
            shutil.copy2(made.parent / name, without_shm.path / name)
    writer.close()
    with_shm.freeze()
    without_shm.freeze()
    done = run_cli("--db", str(with_shm.path / "store.db"), "jobs", "--json")
    assert done.returncode == 0, done.stderr
    assert [j["info"] for j in json.loads(done.stdout)] == ["changed in the wal"]
    db = without_shm.path / "store.db"
    refused(
        run_cli("--db", str(db), "jobs", timeout=TIMEOUT),
        f"{db}: cannot read the store: its store.db-wal file holds changes",
        "it is on a read-only file system",
    )


def test_a_read_only_view_of_a_store_an_engine_writes_follows_it(
    tmp_path: Path, mounts: Callable[..., Mount]
) -> None:
    """A read-only bind mount of a folder whose store a live engine writes: read through
    its -wal and -shm, as SQLite reads any WAL store (not frozen as an immutable file)."""
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    folder = tmp_path / "live"
    folder.mkdir()
    db = folder / "store.db"
    serve = subprocess.Popen(
        [sys.executable, "-m", "jobdash", "--db", str(db), "--config", str(config), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stderr is not None
        assert "slots on" in serve.stderr.readline() + serve.stderr.readline()
        view = mounts(folder)
        view.freeze()
        seen = view.path / "store.db"

        def listed() -> list[str]:
            done = run_cli("--db", str(seen), "jobs", "--json", timeout=TIMEOUT)
            assert done.returncode == 0, done.stderr
            return [j["status"] for j in json.loads(done.stdout)]

        for n in (1, 2):
            assert run_cli("--db", str(db), "--config", str(config), "run", "hello").returncode == 0
            until(lambda n=n: listed() == ["succeeded"] * n, 30, f"job {n} seen done")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(TIMEOUT)


def test_a_users_store_it_cannot_write_is_read_and_writes_say_precisely_why(
    other_user: OsUser,
) -> None:
    db = make_store_as(other_user)
    config = str(other_user.home / "jobdash.toml")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return other_user.run("--db", str(db), "--config", config, *args, timeout=TIMEOUT)

    # A folder where SQLite cannot add the -wal and -shm files: read; writes refused.
    before = digest(db)
    other_user.home.chmod(0o500)
    try:
        for command in READING:
            done = run(*command)
            assert done.returncode == 0 and "jobdash:" not in done.stderr, (command, done.stderr)
        for command in (["run", "hello"], ["serve", "--grace", "1"]):
            refused(
                run(*command),
                f"{db}: cannot write the store: its folder {other_user.home} is not "
                "writable by you",
            )
    finally:
        other_user.home.chmod(0o700)
    assert digest(db) == before and sidecars(db) == []
    # The file itself not writable.
    db.chmod(0o400)
    for command in (["run", "hello"], ["serve", "--grace", "1"]):
        refused(
            run(*command),
            f"{db}: cannot write the store: the store file is not writable by you (mode 0400)",
        )
    assert run("jobs").returncode == 0


# --------------------------------------------------------------------------- smaller (7)


def test_check_opens_and_creates_no_store(tmp_path: Path) -> None:
    data = tmp_path / "xdg-fresh"
    done = run_cli("check", env={"JOBDASH_DB": "", "XDG_DATA_HOME": str(data)})
    assert done.returncode == 0, done.stderr
    assert said(done) == [] and not data.exists()
    db = tmp_path / "named.db"
    assert run_cli("check", "--db", str(db)).returncode == 0
    assert not db.exists()


def test_a_store_failure_is_said_in_good_english(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobdash.store")
    for fault, held in (("disk one", 1), ("disk two", 0), ("disk three", 2)):
        FaultLog().failed(fault, held)
    assert [r.getMessage() for r in caplog.records] == [
        "disk one; retrying every 1 s; 1 log line held",
        "disk two; retrying every 1 s",
        "disk three; retrying every 1 s; 2 log lines held",
    ]


def test_a_store_whose_tables_do_not_match_its_version_is_refused_before_any_upgrade(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.db"
    assert run_cli("--db", str(db), "jobs").returncode == 0
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    before = digest(db)
    line = refused(
        run_cli("--db", str(db), "jobs", timeout=TIMEOUT),
        f"{db}: its tables do not match its recorded schema version 1 (tables ",
        "not of it); jobdash will not upgrade it and left it untouched",
    )
    assert "already exists" not in line
    assert digest(db) == before and sidecars(db) == []


def test_a_config_that_is_not_a_file_is_said_alike_by_option_and_variable() -> None:
    by_option = refused(run_cli("--config", "/dev/zero", "check"))
    by_variable = refused(run_cli("check", env={"JOBDASH_CONFIG": "/dev/zero"}))
    assert by_option == "jobdash: /dev/zero: not a file"
    assert by_variable == "jobdash: /dev/zero: not a file (named by $JOBDASH_CONFIG)"
    missing = refused(run_cli("check", env={"JOBDASH_CONFIG": "/no/such.toml"}))
    assert missing == "jobdash: /no/such.toml: config file not found (named by $JOBDASH_CONFIG)"


def test_a_store_opened_while_another_process_writes_it_first_waits_for_it(
    tmp_path: Path,
) -> None:
    """Switching a new store to WAL mode needs the file to itself, and SQLite refuses at once
    ("database is locked", without its busy wait) while another connection holds the write
    lock: a process that opened a store another was making failed where it should wait."""
    db = tmp_path / "held.db"
    db.touch(mode=0o600)  # an empty file: a store jobdash creates in it
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as another process making the store does, briefly
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdash", "jobs", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # long enough for the open to reach the switch and be refused
    holder.execute("COMMIT")
    holder.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_a_store_is_made_in_an_empty_sqlite_database(tmp_path: Path) -> None:
    """A program that opened the (empty) file and committed nothing leaves an SQLite
    database of no tables, 4,096 bytes: a store is made in it as in an empty file (it was
    taken for one another process made meanwhile, and refused after 30 s of retries)."""
    db = tmp_path / "empty.db"
    db.touch(mode=0o600)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("COMMIT")
    other.close()
    assert db.stat().st_size > 0
    done = run_cli("jobs", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert f"created store at {db} (in the empty database there)" in done.stderr
    again = run_cli("jobs", "--db", str(db))  # a store now: nothing made this time
    assert again.returncode == 0 and "created" not in again.stderr, again.stderr


def test_processes_that_create_one_store_together_all_open_it(tmp_path: Path) -> None:
    """A dashboard and a command started together on a store that does not exist yet: one
    creates it, the others find it made meanwhile and open it (none says "try again")."""
    for round_ in range(4):
        db = tmp_path / f"new-{round_}.db"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "jobdash", "jobs", "--db", str(db)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
