"""The real `jobdash` dashboard on a pseudo-terminal, for the tests that need what it
writes to a terminal (the low-bandwidth mode's) or how the process ends: started in its
own session, keys sent, stopped with SIGTERM (or quit with `q`); everything it wrote is
returned."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[^\[\]]")


def plain(written: bytes) -> str:
    """What was written, without its control sequences."""
    return ESCAPES.sub("", written.decode("utf-8", "replace"))


def run_on_pty(
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    keys: Sequence[str] = (),
    settle: float = 2.0,
    size: tuple[int, int] = (100, 30),
    drawn: str = "In Progress",
    finally_drawn: str | None = None,
) -> bytes:
    """Run `jobdash ARGS` on a pty of `size` (columns, lines) until it has `drawn` that
    text (at most 60 s: a busy machine starts slowly), `settle` seconds more, send each of
    `keys` 1.2 s apart, wait until it has drawn `finally_drawn` (if given, at most 60 s),
    then stop it; what it wrote."""
    proc, master, chunks, reader = _spawn(args, cwd, env, size)
    try:
        _wait_for(drawn, chunks, proc)
        time.sleep(settle)
        for key in keys:
            os.write(master, key.encode())
            time.sleep(1.2)
        if finally_drawn is not None:
            _wait_for(finally_drawn, chunks, proc)
    finally:
        _stop(proc, master, reader)
    return b"".join(chunks)


def quit_on_pty(
    args: Sequence[str], cwd: Path, after: float | str, timeout: float = 30.0
) -> tuple[int | None, bytes]:
    """Run `jobdash ARGS` on a pty, press `q` `after` seconds (or once it has drawn that
    text), and wait until it ends (at most `timeout` seconds); its exit status (None: it
    had not ended, and was stopped) and what it wrote."""
    proc, master, chunks, reader = _spawn(args, cwd, None, (120, 40))
    try:
        if isinstance(after, str):
            _wait_for(after, chunks, proc)
        else:
            time.sleep(after)
        os.write(master, b"q")
        try:
            status: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            status = None
    finally:
        _stop(proc, master, reader)
    return status, b"".join(chunks)


def _spawn(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None, size: tuple[int, int]
) -> tuple[subprocess.Popen[bytes], int, list[bytes], threading.Thread]:
    """`jobdash ARGS` started on a new pty of `size`, and the thread that keeps what it
    writes (in the list returned)."""
    master, slave = os.openpty()
    cols, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    full = dict(os.environ, TERM="xterm-256color", PYTHONPATH=str(ROOT))
    for name in ("NO_COLOR", "SSH_CONNECTION", "TEXTUAL_FPS", "TEXTUAL_DRIVER"):
        full.pop(name, None)
    full.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdash", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=full,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
    reader.start()
    return proc, master, chunks, reader


def _stop(proc: subprocess.Popen[bytes], master: int, reader: threading.Thread) -> None:
    """SIGTERM to the process's session (SIGKILL after 10 s), then the pty closed."""
    with contextlib.suppress(ProcessLookupError):  # the session has ended already
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(5)
    os.close(master)


def _wait_for(text: str, chunks: list[bytes], proc: subprocess.Popen[bytes]) -> None:
    """Until `text` shows in what was written (at most 60 s, or until the process ends)."""
    deadline = time.monotonic() + 60
    while text not in plain(b"".join(chunks)) and time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        time.sleep(0.1)


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        chunks.append(data)
