"""How command tasks run: their output as data, their end, their environment, and the odd
processes an engine meets (output closed early, pipes held by a daemon, a program moved); a
task that cannot start (a command, a Python function) says why once."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.runners import LEFTOVER_GRACE, READ_LIMIT
from jobdash.core.service import Service
from tests.conftest import wait_finished

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]


def command_type(name: str, argv: list[str]) -> str:
    return f"[types.{name}]\ncommand = {json.dumps(argv)}\n"  # a JSON list is TOML too


async def run_one(svc: Service, type_name: str, timeout: float = 20.0) -> tuple[int, list]:
    job = await wait_finished(svc, (await svc.submit(type_name)).id, timeout)
    return job.id, await svc.logs(job.id)


async def test_output_is_stored_line_by_line_as_data(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    script = tmp_path / "emit.py"
    script.write_text(
        "import sys, time\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'plain\\r\\n')\n"
        "out.write(b'[bold]markup[/bold] \\x1b[31mred\\n')\n"
        "out.write(b'bad \\xff byte\\n')\n"
        f"out.write(b'x' * ({READ_LIMIT} + 10) + b'\\n'); out.flush()\n"
        # the same line again, its last 15 bytes and the newline coming after a pause
        f"out.write(b'x' * ({READ_LIMIT} - 5)); out.flush(); time.sleep(0.1)\n"
        "out.write(b'x' * 15 + b'\\n'); out.flush()\n"
        "sys.stderr.write('err line\\n'); sys.stderr.flush()\n"
        "time.sleep(0.1)\n"
        "out.write(b'part one, '); out.flush(); time.sleep(0.1)\n"
        "out.write(b'part two\\nno newline at end')\n"
    )
    svc = await services(write_config(command_type("emit", [sys.executable, str(script)])))
    job_id, lines = await run_one(svc, "emit")
    assert (await svc.store.get_job(job_id)).status is JobStatus.SUCCEEDED
    stdout = [ln.text for ln in lines if ln.stream == "stdout"]
    assert stdout == [
        "plain",
        "[bold]markup[/bold] \x1b[31mred",  # kept as written: never read as markup
        "bad \ufffd byte",
        "x" * READ_LIMIT,  # a longer line is cut, nothing is lost
        "x" * 10,
        "x" * READ_LIMIT,
        "x" * 10,
        "part one, part two",  # one line, though written in two pieces
        "no newline at end",
    ]
    assert [ln.text for ln in lines if ln.stream == "stderr"] == ["err line"]


async def test_a_command_that_cannot_start_fails_with_one_line(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(command_type("missing", ["no-such-command-jobdash"])))
    job_id, lines = await run_one(svc, "missing")
    assert (await svc.store.get_job(job_id)).status is JobStatus.FAILED
    (task,) = await svc.tasks(job_id)
    expected = "cannot start 'no-such-command-jobdash': No such file or directory"
    assert (task.status, task.error) == (TaskStatus.FAILED, expected)
    # its log says the cause once, in the attempt's failure line (not again on a line before)
    assert [(ln.stream, ln.text) for ln in lines] == [
        ("system", f"missing: attempt 1 of 1 failed ({expected}); no retries left"),
    ]


async def test_a_function_that_cannot_load_fails_with_one_line(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """As a command that cannot start: the cause once, in the attempt's failure line. (The
    config's check finds the module; the function in it is missing when the job function,
    task `main`, runs.)"""
    ref = "tests.failing_jobs:no_such_function"
    svc = await services(write_config(f'[types.gone]\nfunction = "{ref}"\n'))
    job_id, lines = await run_one(svc, "gone")
    (task,) = await svc.tasks(job_id)
    assert task.status is TaskStatus.FAILED and task.error.startswith(f"cannot load {ref}: ")
    assert [(ln.stream, ln.text) for ln in lines] == [
        ("system", f"main: attempt 1 of 1 failed ({task.error}); no retries left"),
    ]


async def test_a_program_found_on_path_is_found_again_after_it_moves(
    services: Open,
    write_config: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = tmp_path / "bin1", tmp_path / "bin2"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("PATH", f"{first}:{second}:{os.environ['PATH']}")

    def install(where: Path, says: str) -> None:
        tool = where / "jobdash-test-tool"
        tool.write_text(f"#!/bin/sh\necho {says}\n")
        tool.chmod(0o755)

    install(first, "one")
    svc = await services(write_config(command_type("tool", ["jobdash-test-tool"])))
    _, lines = await run_one(svc, "tool")
    assert [ln.text for ln in lines] == ["one"]
    (first / "jobdash-test-tool").unlink()
    install(second, "two")
    job_id, lines = await run_one(svc, "tool")
    assert (await svc.store.get_job(job_id)).status is JobStatus.SUCCEEDED
    assert [ln.text for ln in lines] == ["two"]


async def test_a_failed_commands_error_says_what_it_wrote_last_on_stderr(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """`exit 4` alone tells an on-call engineer nothing: the last line the command wrote on
    stderr is the cause, most often, and what failures are grouped by. Cut, kept as data."""
    script = (
        "echo 'rsync: link_stat \"/srv/a\" failed' >&2; echo out; printf '\\n  \\n' >&2; "
        "printf 'rsync error: code 23 %s\\n' $(head -c 400 /dev/zero | tr '\\0' x) >&2; "
        "printf '   \\n' >&2; exit 4"
    )
    svc = await services(write_config(command_type("noisy", ["sh", "-c", script])))
    job_id, _ = await run_one(svc, "noisy")
    (task,) = await svc.tasks(job_id)
    assert task.exit_code == 4 and task.error.startswith("exit 4: rsync error: code 23 xxx")
    assert len(task.error) == len("exit 4: ") + 300
    svc2 = await services(write_config(command_type("quiet", ["sh", "-c", "echo out; exit 5"])))
    job_id, _ = await run_one(svc2, "quiet")
    assert [t.error for t in await svc2.tasks(job_id)] == ["exit 5"]
    killed = ["sh", "-c", "echo 'Segmentation fault' >&2; kill -SEGV $$"]
    svc3 = await services(write_config(command_type("crash", killed)))
    job_id, _ = await run_one(svc3, "crash")
    assert [t.error for t in await svc3.tasks(job_id)] == ["killed by SIGSEGV: Segmentation fault"]


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "waitpid-thread"])
async def test_a_command_that_closes_its_output_is_waited_for(
    services: Open,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    pidfd: bool,
) -> None:
    """The end of a task is its process's end, not the end of its output. Without pidfds
    (Linux < 5.3) a worker thread waits instead."""
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open")
    argv = ["sh", "-c", "echo before; exec >/dev/null 2>&1; sleep 0.8; exit 3"]
    svc = await services(write_config(command_type("quiet", argv)))
    t0 = time.monotonic()
    job_id, lines = await run_one(svc, "quiet")
    assert time.monotonic() - t0 >= 0.8
    (task,) = await svc.tasks(job_id)
    assert (task.status, task.exit_code, task.error) == (TaskStatus.FAILED, 3, "exit 3")
    assert [ln.text for ln in lines if ln.stream == "stdout"] == ["before"]


async def test_output_held_by_a_process_outside_the_group_does_not_hold_the_task(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    """A child that made a session of its own escapes the group's SIGTERM and may keep the
    pipes open for ever: once the command ended, the task ends regardless."""
    pidfile = tmp_path / "daemon.pid"
    argv = ["sh", "-c", f"setsid sleep 60 & echo $! > {pidfile}; echo bye"]
    svc = await services(write_config(command_type("daemonizes", argv)))
    try:
        t0 = time.monotonic()
        job_id, lines = await run_one(svc, "daemonizes", timeout=15)
        assert time.monotonic() - t0 < 2 * LEFTOVER_GRACE + 3
        assert (await svc.store.get_job(job_id)).status is JobStatus.SUCCEEDED
        assert [ln.text for ln in lines if ln.stream == "stdout"] == ["bye"]
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


async def test_environment_stdin_and_signals_of_a_command(
    services: Open,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_TEST_VAR", "from the engine")
    script = (
        'echo "$JOBDASH_JOB_ID $JOBDASH_TASK $JOBDASH_ATTEMPT"; '
        'test -n "$JOBDASH_AGENT_OWNER" && echo owner set; '
        'echo "$JOBDASH_TEST_VAR"; '
        "cat; echo stdin at end; "  # stdin is /dev/null: cat ends at once
        "yes | head -n 1"  # SIGPIPE is the default in the child: no 'Broken pipe'
    )
    svc = await services(write_config(command_type("env", ["sh", "-c", script])))
    job_id, lines = await run_one(svc, "env", timeout=10)
    assert (await svc.store.get_job(job_id)).status is JobStatus.SUCCEEDED
    assert [(ln.stream, ln.text) for ln in lines] == [
        ("stdout", f"{job_id} 1 1"),
        ("stdout", "owner set"),
        ("stdout", "from the engine"),
        ("stdout", "stdin at end"),
        ("stdout", "y"),
    ]
