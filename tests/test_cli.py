"""The command line through real subprocesses (`python -m jobdash …`), a real SQLite file per
test (JOBDASH_DB, set by the autouse fixture) and, where jobs must run, a real `jobdash serve`.

Exit status: 0 success, 1 the job failed or the request was refused, 2 bad usage or
bad input — and every refusal or usage error is one line on stderr.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobdash.core.processes import group_alive
from tests.conftest import run_cli

CONFIG = """\
[types.hello]
description = "three greetings"
items = ["alpha", "beta", "gamma"]
command = ["sh", "-c", "echo hello {item}; echo warn {item} >&2"]
parallel = 3

[types.fail]
command = ["sh", "-c", "echo about to fail; exit 3"]

[types.listed]
items = { command = ["printf", "a\\nb\\nc\\n"] }
command = ["echo", "{item}"]

[types.adds]
function = "adds:go"

[types.needs]
params.name = { required = true, help = "who" }
params.greeting = { default = "hi" }
command = ["echo", "{greeting}", "{name}"]

[types.markup]
command = ["printf", '[bold red]x[/]\\n\\033[31mred\\033[0m plain\\n']

[types.many]
command = ["seq", "50"]

[types.slow]
params.seconds = { default = "1" }
params.marker = { required = true }
command = ["sh", "-c", "sleep {seconds}; echo done > {marker}"]

[types.stubborn]
params.pidfile = { required = true }
command = ["sh", "-c", "echo $$ > {pidfile}; sleep 300 & sleep 300"]
"""


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


def fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


def no_sidecars(path: Path) -> bool:
    return not any(Path(f"{path}{s}").exists() for s in ("-wal", "-shm", "-journal"))


@pytest.fixture
def config(write_config: Callable[[str], Path]) -> Path:
    path = write_config(CONFIG)  # ./jobdash.toml: found without --config
    (path.parent / "adds.py").write_text("async def go(ctx):\n    pass\n")  # type `adds`
    return path


class Serve:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while "slots on" not in self.stderr():
            assert self.proc.poll() is None, f"serve exited: {self.stderr()}"
            assert time.monotonic() < deadline, f"serve never ready: {self.stderr()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def serve(config: Path, tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(*extra: str) -> Serve:
        log = tmp_path / f"serve-{len(started)}.log"
        with log.open("wb") as f:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobdash", "serve", "--slots", "4", *extra],
                stdout=f,
                stderr=f,
                start_new_session=True,
            )
        s = Serve(proc, log)
        started.append(s)
        s.wait_ready()
        return s

    yield start
    for s in started:
        s.stop()


def wait_file(path: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return path.read_text().strip()


def job_json(job: int) -> dict[str, object]:
    done = run_cli("show", str(job), "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


# --------------------------------------------------------------------------- config


def test_toml_syntax_error_exits_2_with_one_line_naming_file_and_line(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config('[types.a]\ncommand = ["true"\n')
    done = run_cli("jobs")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert str(path.name) in line and ":2" in line and "syntax" in line.lower()
    # The same from --config given before the command (it used to be lost).
    other = path.with_name("other.toml")
    other.write_text("[types.b\n")
    done = run_cli("--config", str(other), "jobs")
    assert done.returncode == 2
    assert "other.toml:1" in one_line(done.stderr)


def test_unknown_key_in_a_type_names_file_dotted_key_and_line(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config('[types.a]\ncommand = ["true"]\nparalel = 2\n')
    store = tmp_path / "fresh.db"
    done = run_cli("jobs", env={"JOBDASH_DB": str(store)})
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "jobdash.toml:3" in line and "types.a.paralel" in line
    assert "parallel" in line  # the suggestion
    assert not store.exists()  # nothing was opened or created


def test_check_ok_and_fails(config: Path, write_config: Callable[[str], Path]) -> None:
    done = run_cli("check")
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout and "hello" in done.stdout
    write_config(CONFIG + '\n[types.bad]\ncommand = ["echo", "{nope}"]\n')
    done = run_cli("check")
    assert done.returncode == 2
    assert "types.bad.command" in one_line(done.stderr)


# --------------------------------------------------------------------------- the store


@pytest.mark.parametrize("where", ["after", "before"])
def test_a_text_file_as_db_is_refused_untouched(tmp_path: Path, where: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my precious notes\n")
    before = fingerprint(path)
    args = ["jobs", "--db", str(path)] if where == "after" else ["--db", str(path), "jobs"]
    done = run_cli(*args)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "notes.txt" in line and "not a jobdash store" in line
    assert fingerprint(path) == before
    assert no_sidecars(path)


@pytest.mark.parametrize("wal", [False, True])
def test_an_sqlite_file_of_another_app_is_refused_untouched(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "other-app.sqlite"
    con = sqlite3.connect(path)  # SQLite backend: another app's database file, as it makes it
    if wal:
        con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.execute("INSERT INTO contacts VALUES ('ada')")
    con.commit()
    con.close()
    assert no_sidecars(path)
    before = fingerprint(path)
    done = run_cli("run", "hello", "--db", str(path))
    assert done.returncode == 2
    assert "not a jobdash store" in one_line(done.stderr)
    assert fingerprint(path) == before
    assert no_sidecars(path)  # not even a read-only open's -wal/-shm


def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path: Path, config: Path) -> None:
    path = tmp_path / "newer.db"
    assert run_cli("jobs", "--db", str(path)).returncode == 0
    con = sqlite3.connect(path)  # SQLite backend: only a poke of the file makes it "newer"
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()
    assert no_sidecars(path)
    before = fingerprint(path)
    done = run_cli("run", "hello", "--db", str(path))
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "newer" in line and "999" in line
    assert fingerprint(path) == before
    assert no_sidecars(path)


def test_the_store_is_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    done = run_cli("jobs", "--db", str(path))
    assert done.returncode == 0, done.stderr
    assert f"created store at {path}" in done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- run


def test_run_follow_streams_the_log_and_exits_with_the_job_status(
    serve: Callable[..., Serve],
) -> None:
    serve()
    done = run_cli("run", "hello", "--follow")
    assert done.returncode == 0, done.stderr
    for item in ("alpha", "beta", "gamma"):
        assert f"hello {item}" in done.stdout
        assert f"warn {item}" in done.stdout  # stderr lines too, in the one stream
    assert "succeeded" in done.stdout
    done = run_cli("run", "fail", "--follow")
    assert done.returncode == 1, done.stderr
    assert "about to fail" in done.stdout
    assert "failed" in done.stdout
    done = run_cli("run", "fail", "--wait")
    assert done.returncode == 1
    assert "about to fail" not in done.stdout  # --wait: no log


def test_run_without_a_live_engine_says_so_and_how_to_start_one(config: Path) -> None:
    done = run_cli("run", "hello")
    assert done.returncode == 0
    line = one_line(done.stderr)
    assert "no engine" in line and "jobdash serve" in line
    assert "queued" in done.stdout
    jobs = json.loads(run_cli("jobs", "--json").stdout)
    assert [(j["type"], j["status"]) for j in jobs] == [("hello", "queued")]


def test_run_with_a_live_engine_says_the_job_is_running_when_nothing_held_it_back(
    config: Path, serve: Callable[..., Serve]
) -> None:
    """A job nothing can block is created running (`lifecycle.admitted_at_submit`): the
    line says so, not "queued"."""
    serve()
    done = run_cli("run", "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "job 1 running (hello, 3 tasks)\n"
    assert done.stderr == ""
    done = run_cli("run", "listed")  # its items command lists them at submission
    assert done.stdout == "job 2 running (listed, 3 tasks)\n", done.stderr
    # The tasks a job function adds once it runs are not counted at submission (it said
    # "1 task" of a job that made 41).
    done = run_cli("run", "adds")
    assert done.stdout == "job 3 running (adds)\n", done.stderr


@pytest.mark.parametrize(
    ("params", "words"),
    [
        (["-p", "name=ada", "-p", "colour=red"], ["unknown parameter", "colour"]),
        ([], ["name", "required"]),
        (["-p", "name"], ["KEY=VALUE"]),
    ],
)
def test_bad_parameters_exit_2_with_one_line(
    config: Path, params: list[str], words: list[str]
) -> None:
    done = run_cli("run", "needs", *params)
    assert done.returncode == 2, done.stdout
    line = one_line(done.stderr)
    assert all(w in line for w in words), line
    assert json.loads(run_cli("jobs", "--json").stdout) == []  # nothing was created


def test_usage_errors_are_one_line_exit_2(config: Path) -> None:
    for args in (
        ["jobs", "--limit", "0"],
        ["show", "abc"],
        ["frobnicate"],
        ["jobs", "-x"],
        ["run", "nosuchtype"],
        ["export", "--format", "xml"],
    ):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        one_line(done.stderr)


# --------------------------------------------------------------------------- reading


@pytest.fixture
def history(serve: Callable[..., Serve]) -> dict[str, int]:
    """Finished jobs: hello (succeeded), fail (failed), many (succeeded, 50 lines), and
    markup (succeeded) — their ids by type."""
    serve()
    ids: dict[str, int] = {}
    for name in ("hello", "fail", "many", "markup"):
        done = run_cli("run", name, "--wait")
        assert done.returncode == (1 if name == "fail" else 0), done.stderr
        jobs = json.loads(run_cli("jobs", "--json", "--limit", "1").stdout)
        ids[name] = jobs[0]["id"]
    return ids


def test_jobs_filters_and_json(history: dict[str, int]) -> None:
    def listed(*args: str) -> list[int]:
        done = run_cli("jobs", "--json", *args)
        assert done.returncode == 0, done.stderr
        return sorted(j["id"] for j in json.loads(done.stdout))

    everyone = sorted(history.values())
    assert listed() == everyone
    assert listed("--status", "failed") == [history["fail"]]
    assert listed("status:failed") == [history["fail"]]
    assert listed("type:hello") == [history["hello"]]
    assert listed("--type", "many") == [history["many"]]
    assert listed("-status:failed") == sorted(set(everyone) - {history["fail"]})
    assert listed("-type:hello", "-type:many") == sorted([history["fail"], history["markup"]])
    job = json.loads(run_cli("jobs", "--json", "type:fail").stdout)[0]
    assert job["status"] == "failed" and job["user"] and job["total"] == 1
    table = run_cli("jobs").stdout
    assert "fail" in table and "hello" in table
    done = run_cli("jobs", "--status", "cancelled")
    assert done.returncode == 0 and "no jobs match" in done.stderr
    # A listing that stops short says so (on stderr: a pipe gets the rows only).
    done = run_cli("jobs", "--limit", str(len(everyone) - 1))
    assert done.returncode == 0 and str(max(everyone)) in done.stdout
    assert one_line(done.stderr) == (
        f"jobdash: the first {len(everyone) - 1} shown; more match (--limit N, or --all)"
    )
    assert run_cli("jobs", "--limit", str(len(everyone))).stderr == ""


def test_show_and_show_json(history: dict[str, int]) -> None:
    jid = history["hello"]
    done = run_cli("show", str(jid))
    assert done.returncode == 0, done.stderr
    assert f"job {jid}" in done.stdout and "hello" in done.stdout
    for item in ("alpha", "beta", "gamma"):
        assert item in done.stdout
    d = job_json(jid)
    assert d["status"] == "succeeded" and d["type"] == "hello"
    tasks = d["tasks"]
    assert isinstance(tasks, list)
    assert [t["name"] for t in tasks] == ["alpha", "beta", "gamma"]
    assert all(t["status"] == "succeeded" and t["exit_code"] == 0 for t in tasks)
    done = run_cli("show", "9999")
    assert done.returncode == 2
    assert "9999" in one_line(done.stderr)


def test_logs_tail_and_task(history: dict[str, int]) -> None:
    jid = history["many"]
    done = run_cli("logs", str(jid))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(i) for i in range(1, 51)]
    done = run_cli("logs", str(jid), "--tail", "3")
    assert done.stdout.splitlines() == ["48", "49", "50"]
    hello = history["hello"]
    done = run_cli("logs", str(hello), "--task", "2")
    assert sorted(done.stdout.splitlines()) == ["hello beta", "warn beta"]
    done = run_cli("logs", str(hello), "--task", "99")  # printed nothing, exit 0
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done.stderr) == f"jobdash: logs: job {hello} has no task 99 (tasks 1–3)"


def test_logs_print_job_output_literally_when_piped(history: dict[str, int]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobdash", "logs", str(history["markup"])],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Markup as written; escapes as visible stand-ins (piped output mostly ends on a terminal).
    assert done.stdout.decode() == "[bold red]x[/]\n␛[31mred␛[0m plain\n"


def test_cancel_of_a_finished_job_is_refused_with_one_line(history: dict[str, int]) -> None:
    done = run_cli("cancel", str(history["hello"]))
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert str(history["hello"]) in line and "succeeded" in line
    done = run_cli("retry", str(history["hello"]))
    assert done.returncode == 1
    one_line(done.stderr)


def test_export_csv_file_and_json(history: dict[str, int], tmp_path: Path) -> None:
    done = run_cli("export")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("startDate,endDate,jobName,jobStatus,jobInfo,jobUser")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert sorted(r["jobName"] for r in rows) == ["fail", "hello", "many", "markup"]
    assert {r["jobStatus"] for r in rows} == {"succeeded", "failed"}
    assert all(r["startDate"] and r["endDate"] and r["jobUser"] for r in rows)
    out = tmp_path / "history.csv"
    done = run_cli("export", "-o", str(out), "status:failed")
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("startDate,endDate,jobName,jobStatus,jobInfo,jobUser")
    assert [r["jobName"] for r in csv.DictReader(io.StringIO(text))] == ["fail"]
    done = run_cli("export", "--format", "json")
    assert done.returncode == 0
    assert sorted(j["type"] for j in json.loads(done.stdout)) == ["fail", "hello", "many", "markup"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_that_selects_no_job_is_an_empty_one(history: dict[str, int], fmt: str) -> None:
    """A filter that matches nothing exports nothing (CSV: its header; JSON: `[]`)."""
    done = run_cli("export", "--format", fmt, "no-job-says-this")
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        assert json.loads(done.stdout) == []
    else:
        assert (
            done.stdout.startswith("startDate,endDate,jobName")
            and len(done.stdout.splitlines()) == 1
        )


def test_clear_as_a_non_admin(history: dict[str, int]) -> None:
    bob = {"JOBDASH_USER": "bob"}  # tests run as root, who may act as another user
    assert os.geteuid() == 0
    done = run_cli("clear", "--all", env=bob)
    assert done.returncode == 1
    assert "admin" in one_line(done.stderr)
    # Plain `clear` removes bob's own finished jobs only: he has none, root's stay.
    done = run_cli("clear", env=bob)
    assert done.returncode == 0, done.stderr
    assert "0 finished jobs removed" in done.stdout
    assert len(json.loads(run_cli("jobs", "--json").stdout)) == len(history)
    # Bob cannot see, show or cancel root's jobs.
    assert json.loads(run_cli("jobs", "--json", env=bob).stdout) == []
    done = run_cli("show", str(history["hello"]), env=bob)
    assert done.returncode != 0
    one_line(done.stderr)
    # An admin clears everything.
    done = run_cli("clear", "--all")
    assert done.returncode == 0
    assert json.loads(run_cli("jobs", "--json").stdout) == []


# --------------------------------------------------------------------------- serve and signals


def test_serve_stops_gracefully_on_sigterm(serve: Callable[..., Serve], tmp_path: Path) -> None:
    s = serve("--grace", "20")
    marker = tmp_path / "slow.done"
    # 6 s: each look at the job is a CLI process, which takes seconds on a loaded machine.
    assert run_cli("run", "slow", "-p", "seconds=6", "-p", f"marker={marker}").returncode == 0
    deadline = time.monotonic() + 20
    while job_json(1)["running"] != 1:
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(20) == 0, s.stderr()
    assert time.monotonic() - t0 < 20
    assert marker.read_text().strip() == "done"  # the running task was let finish…
    d = job_json(1)
    assert d["status"] == "succeeded"  # …and its result recorded
    assert "stopping" in s.stderr()


def test_serve_stops_at_once_on_a_second_signal(
    serve: Callable[..., Serve], tmp_path: Path
) -> None:
    s = serve("--grace", "60")
    pidfile = tmp_path / "pid"
    assert run_cli("run", "stubborn", "-p", f"pidfile={pidfile}").returncode == 0
    pgid = int(wait_file(pidfile))
    assert group_alive(pgid)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.proc.poll() is None  # the first signal waits for the task (grace 60 s)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(15) == 0, s.stderr()
    assert time.monotonic() - t0 < 15
    deadline = time.monotonic() + 5
    while group_alive(pgid):
        assert time.monotonic() < deadline, "the task's process group outlived serve"
        time.sleep(0.05)
    # The claim was given back, not recorded as a result: the task waits for an engine.
    d = job_json(1)
    tasks = d["tasks"]
    assert isinstance(tasks, list)
    assert tasks[0]["status"] == "pending"


def test_a_killed_engine_is_not_taken_for_a_live_one(tmp_path: Path) -> None:
    """`kill -9` leaves a fresh heartbeat behind; on this host the dead pid gives it away."""
    import signal as sig

    db = tmp_path / "k.db"
    (tmp_path / "jobdash.toml").write_text('[types.t]\ncommand = ["true"]\n')
    serve = subprocess.Popen(
        [sys.executable, "-m", "jobdash", "serve", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 20
        while "no engine is running" in run_cli("run", "t", "--db", str(db), cwd=tmp_path).stderr:
            assert time.monotonic() < deadline, "serve never registered"
            time.sleep(0.2)
    finally:
        serve.send_signal(sig.SIGKILL)
        serve.wait()
    done = run_cli("run", "t", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0 and "no engine is running" in done.stderr
    # A listing of unfinished jobs says nothing moves them now.
    done = run_cli("jobs", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0 and "running" in done.stdout  # as the dead engine left them
    assert "no engine is running" in one_line(done.stderr)
