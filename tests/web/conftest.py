"""A real `jobdash web` in a subprocess, and what its log says about its sessions.

Each server ends with the process that started it, even one killed outright (pytest under
`timeout`, SIGKILL, runs no teardown): it asks the kernel for SIGTERM at its parent's death
(`PR_SET_PDEATHSIG`, as the server's own sessions do), and a server ends its sessions on
SIGTERM. The signal comes when the *thread* that started it ends: start servers from the
test's own thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import ending_with

DEADLINE = 60.0  # seconds a condition may take on a loaded machine before the test fails


def until(cond: Callable[[], bool], what: str, within: float = DEADLINE) -> None:
    """Wait until `cond()` holds; fail, saying `what`, after `within` seconds."""
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"still not {what} after {within}s"
        time.sleep(0.05)


async def waited(cond: Callable[[], bool], what: str, within: float = DEADLINE) -> None:
    """`until` for a test on the event loop: the loop goes on while it waits."""
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"still not {what} after {within}s"
        await asyncio.sleep(0.05)


def in_group(pgid: int) -> list[int]:
    """The processes of process group `pgid` still there (zombies too)."""
    found = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pgid:
                found.append(pid)
    return found


@dataclass
class Served:
    """A running `jobdash web`: its process, its address (`url`, with `?token=` when it
    printed one) and its log."""

    proc: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT
    url: str
    log: Path

    @property
    def token(self) -> str:
        return self.url.partition("?token=")[2]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self) -> list[int]:
        """The process groups of the sessions started so far (from the server's log)."""
        return [int(x) for x in re.findall(r"session (\d+) started", self.text())]

    def ended(self) -> list[int]:
        return [int(x) for x in re.findall(r"session (\d+) ended", self.text())]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)


def start_web(log: Path, *args: str) -> Served:
    """`jobdash web --port 0 ARGS` in its own session, its output in `log`, once it says its
    address; it ends with this process (see above)."""
    with log.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobdash", "web", "--port", "0", *args],
            stdout=f,
            stderr=f,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=ending_with(os.getpid()),  # a ctypes call only: takes no lock
        )
    deadline = time.monotonic() + DEADLINE
    while not (m := re.search(r"(http://[^/\s]+)(/\S*)", log.read_text(errors="replace"))):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return Served(proc, m[1], m[1] + m[2], log)


@pytest.fixture
def serve_web(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `jobdash web ARGS` on a free port; every one started is stopped after the test,
    and no session's process group may outlive it."""
    servers: list[Served] = []

    def start(*args: str) -> Served:
        served = start_web(tmp_path / f"web-{len(servers)}.log", *args)
        servers.append(served)
        return served

    yield start
    for served in servers:
        served.stop()
        assert not [g for g in served.started() if in_group(g)], served.text()
