"""One browser session's dashboard: a `jobdash` process driven by Textual's web driver, in a
process group of its own, ended with its whole group.

The web driver (Textual's `textual.drivers.web_driver:WebDriver`, chosen by the
`TEXTUAL_DRIVER` variable, as textual-serve does) writes `__GANGLION__` and a newline, then
packets to standard output and reads packets on standard input: one byte of kind (`D` data,
the terminal's bytes; `M` meta, a JSON object; `P` packed, file deliveries), four bytes of
length (big-endian), the payload.

The process is started in a new session (`setsid`: its own process group, no controlling
terminal), so that ending it reaches whatever it started too, and a signal meant for the
server (Ctrl+C in its terminal) does not reach it. It is ended with SIGTERM to the group,
then SIGKILL to the group after `GRACE` seconds: a process that spins and ignores SIGTERM
does not outlive its browser tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
SERVER_PID = "JOBDASH_WEB_SERVER"  # the server's pid, in a session's environment (`child`)
READY = b"__GANGLION__\n"
GRACE = 5.0  # seconds between SIGTERM and SIGKILL
POLL = 0.05


def group_alive(pgid: int) -> bool:
    """Whether any process (a zombie too) is still in process group `pgid`."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal: still a member
        return True
    return True


def dashboard_argv(options: Sequence[str]) -> list[str]:
    """The dashboard as a browser session runs it: this Python, this jobdash (through
    `child`, which ends it with the server), `--no-engine` (a session watches and acts;
    engines run jobs, `jobdash serve`), plus `options`."""
    return [sys.executable, "-m", "jobdash.web.child", "--no-engine", *options]


class AppProcess:
    """The dashboard process of one websocket. `start`, then `packets()` and `send_*`
    while the websocket lives, then `stop()` (safe to call twice, and at once from two
    places: the websocket's end and the server's)."""

    def __init__(self, proc: asyncio.subprocess.Process, grace: float = GRACE) -> None:
        self.proc = proc
        self.grace = grace
        self.pid = proc.pid  # also its process group's id (a new session's leader)
        self._stopping: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, argv: Sequence[str], width: int, height: int, grace: float = GRACE
    ) -> AppProcess:
        env = {
            **os.environ,
            "TEXTUAL_DRIVER": WEB_DRIVER,
            "TEXTUAL_COLOR_SYSTEM": "truecolor",
            "COLUMNS": str(width),
            "ROWS": str(height),
            SERVER_PID: str(os.getpid()),
        }
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # its errors go where the server's go
            env=env,
            start_new_session=True,
        )
        return cls(proc, grace)

    async def packets(self) -> AsyncIterator[tuple[bytes, bytes]]:
        """(kind, payload) from the app until it ends. Anything it prints before the web
        driver's `__GANGLION__` line is not the protocol and is skipped."""
        out = self.proc.stdout
        assert out is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
            while (line := await out.readline()) != READY:
                if not line:
                    return
            while True:
                head = await out.readexactly(5)
                yield head[:1], await out.readexactly(int.from_bytes(head[1:], "big"))

    async def _send(self, kind: bytes, payload: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        with contextlib.suppress(ConnectionError, RuntimeError):
            stdin.write(kind + len(payload).to_bytes(4, "big") + payload)
            await stdin.drain()

    async def send_keys(self, text: str) -> None:
        """What the browser's terminal typed (keys, mouse reports, pasted text)."""
        await self._send(b"D", text.encode("utf-8", "replace"))

    async def send_meta(self, meta: dict[str, Any]) -> None:
        """A resize, focus or blur, as the web driver reads it."""
        await self._send(b"M", json.dumps(meta).encode("utf-8"))

    async def stop(self) -> None:
        """End the process and its whole group: SIGTERM, then SIGKILL after `grace` s."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        for sig, within in ((signal.SIGTERM, self.grace), (signal.SIGKILL, 60.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            if await self._ended(within):
                return

    async def _ended(self, within: float) -> bool:
        """Whether the group is empty within `within` seconds (the leader reaped)."""
        deadline = time.monotonic() + within
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), POLL)  # reaps the leader
            if self.proc.returncode is not None:
                if not group_alive(self.pid):
                    return True
                await asyncio.sleep(POLL)
            if time.monotonic() >= deadline:
                return False
