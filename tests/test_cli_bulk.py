"""`jobdash run TYPE --params-from FILE|-`: one job per JSON line or CSV row, all or none;
a bad line is one line on stderr naming its number, exit 2, and nothing is submitted."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli

CONFIG = """\
[types.greet]
params.name = { required = true }
params.greeting = { default = "hi" }
params.times = { default = "1" }
command = ["echo", "{greeting}", "{name}"]
"""


@pytest.fixture(autouse=True)
def config(write_config: Callable[[str], Path]) -> Path:
    return write_config(CONFIG)  # ./jobdash.toml: found without --config


def jobs() -> list[dict[str, object]]:
    done = run_cli("jobs", "--json")
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, object]] = json.loads(done.stdout)
    return sorted(listed, key=lambda j: int(str(j["id"])))


def test_json_lines_make_one_job_each_with_the_common_params(tmp_path: Path) -> None:
    src = tmp_path / "jobs.jsonl"
    src.write_text('{"name": "ann"}\n\n{"name": "bob", "times": 3}\n{"name": "cy"}\n')
    done = run_cli("run", "greet", "--params-from", str(src), "-p", "greeting=hello")
    assert done.returncode == 0, done.stderr
    first = min(j["id"] for j in jobs())
    assert f"3 jobs submitted (greet): jobs {first}–{first + 2}" in done.stdout
    made = jobs()
    assert [j["params"] for j in made] == [
        {"name": "ann", "greeting": "hello", "times": "1"},
        {"name": "bob", "greeting": "hello", "times": "3"},
        {"name": "cy", "greeting": "hello", "times": "1"},
    ]
    assert {j["status"] for j in made} == {"queued"}


def test_csv_rows_from_stdin_with_json_output() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobdash", "run", "greet", "--params-from", "-", "--json"],
        input='name,greeting\nann,hey\n"bob, jr",yo\n',
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)["jobs"]
    made = jobs()
    assert [j["id"] for j in made] == ids
    assert [(j["params"]["name"], j["params"]["greeting"]) for j in made] == [  # type: ignore[index]
        ("ann", "hey"),
        ("bob, jr", "yo"),
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"name": "ann"}\n{"name": "bob"}\n{"name": \n', "line 3: not JSON"),
        ('{"name": "ann"}\n["bob"]\n', "line 2: not a JSON object"),
        ('["ann"]\n', "line 1: not a JSON object"),
        ('{"name": "ann"}\n{"name": "bob", "colour": "red"}\n', "line 2: "),
        ('{"name": "ann"}\n{"name": {"first": "bob"}}\n', "line 2: 'name' is not a single value"),
        ('{"name": "ann"}\n\n{"nom": "bob"}\n', "line 3: "),
        ("name,greeting\nann,hey\nbob\n", "line 3: 1 values for 2 columns"),
        ('name,greeting\nann,hey\n"bob,yo\n', "line 3: a quote is not closed"),
        ("", "no jobs in it"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_submitted(tmp_path: Path, text: str, said: str) -> None:
    src = tmp_path / "jobs.txt"
    src.write_text(text)
    done = run_cli("run", "greet", "--params-from", str(src))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--params-from {src}: {said}" in lines[0], lines
    assert jobs() == []


def test_a_csv_with_a_byte_order_mark_names_its_first_column(tmp_path: Path) -> None:
    # Spreadsheets save "CSV UTF-8" with a byte order mark before the header.
    src = tmp_path / "jobs.csv"
    src.write_bytes(b"\xef\xbb\xbfname,greeting\nann,hey\n")
    done = run_cli("run", "greet", "--params-from", str(src))
    assert done.returncode == 0, done.stderr
    assert [j["params"]["name"] for j in jobs()] == ["ann"]  # type: ignore[index]


@pytest.mark.parametrize("where", ["file", "stdin"])
def test_binary_junk_is_not_utf8_text(tmp_path: Path, where: str) -> None:
    junk = b"\x00\x01\xff\xfe\x80garbage\n"
    src = tmp_path / "junk.bin"
    src.write_bytes(junk)
    # A C locale: Python reads standard input with surrogateescape there, junk as text.
    done = subprocess.run(
        [sys.executable, "-m", "jobdash", "run", "greet", "--params-from"]
        + (["-"] if where == "stdin" else [str(src)]),
        input=junk,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "not UTF-8 text (byte 0xff at offset 2)" in lines[0], lines
    assert jobs() == []


def test_ctrl_c_ends_a_read_of_the_terminal(tmp_path: Path) -> None:
    # `--params-from -` at a terminal waits for lines until Ctrl-D; Ctrl-C must end it.
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its standard input
        os.execv(
            sys.executable, [sys.executable, "-m", "jobdash", "run", "greet", "--params-from", "-"]
        )
    try:
        reading = Path(f"/proc/{pid}/syscall")
        for _ in range(600):  # until it blocks in read(0, …): inside asyncio.run by then
            if reading.read_text().split()[:2] == ["0", "0x0"]:
                break
            time.sleep(0.1)
        os.kill(pid, signal.SIGINT)
        for _ in range(100):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("still reading 10 s after Ctrl-C")
        assert os.waitstatus_to_exitcode(status) == 130
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert jobs() == []


def test_params_from_with_wait_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "jobs.jsonl"
    src.write_text('{"name": "ann"}\n')
    done = run_cli("run", "greet", "--params-from", str(src), "--wait")
    assert done.returncode == 2 and "--wait and --follow follow one" in done.stderr
    assert jobs() == []
