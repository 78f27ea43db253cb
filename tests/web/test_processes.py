"""Every session's dashboard process, and all it started, ends with its websocket or with
the server: no process survives a browser that connects and drops at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psutil
import pytest

from jobdash.web.auth import COOKIE
from jobdash.web.session import READY, AppProcess
from tests.web.conftest import Served, in_group, until, waited
from tests.web.test_auth import sign_in

Serve = Callable[..., Served]


async def drop_at_once(served: Served, cookie: str, clean: bool) -> None:
    """Open a websocket and leave: with a close frame (`clean`), or by cutting the TCP
    connection right after the handshake, as a closed laptop lid or a lost network does."""
    if clean:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(
                f"{served.base}/ws", headers={"Cookie": f"{COOKIE}={cookie}"}
            )
            await ws.close()
        return
    host, port = served.base[len("http://") :].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            f"GET /ws?width=120&height=40 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: {COOKIE}={cookie}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    writer.transport.abort()  # no close frame, no FIN: a reset


@pytest.mark.slow
async def test_fifty_clients_that_connect_and_drop_leave_no_process(serve_web: Serve) -> None:
    served = serve_web("--sessions", "60")
    cookie = await sign_in(served)
    await asyncio.gather(*(drop_at_once(served, cookie, clean=i % 2 == 0) for i in range(50)))
    await waited(lambda: len(served.started()) == 50, "50 sessions started")
    groups = served.started()
    await waited(lambda: sorted(served.ended()) == sorted(groups), "50 sessions ended")
    assert [(g, in_group(g)) for g in groups if in_group(g)] == []
    assert psutil.Process(served.proc.pid).children(recursive=True) == []
    # The server goes on serving.
    async with (
        aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http,
        http.get(served.base + "/") as r,
    ):
        assert r.status == 200


async def test_stopping_the_server_ends_every_session(serve_web: Serve) -> None:
    served = serve_web()
    cookie = await sign_in(served)
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:
        sockets = [await http.ws_connect(f"{served.base}/ws") for _ in range(3)]
        await waited(lambda: len(served.started()) == 3, "3 sessions started")
        assert served.stop() == 0
        assert [g for g in served.started() if in_group(g)] == []
        assert "every session ended" in served.text()
        for ws in sockets:
            await ws.close()


async def test_quitting_the_dashboard_closes_its_websocket_after_any_junk(serve_web: Serve) -> None:
    served = serve_web()
    cookie = await sign_in(served)
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:
        ws = await http.ws_connect(f"{served.base}/ws?width=120&height=40")
        received = b""
        while b"Completed" not in received:  # the dashboard is drawn
            received += (await ws.receive_bytes(timeout=60)).replace(b"\x1b", b"")
        # What textual.js never sends is ignored, and the session goes on.
        for junk in ("5", "not json", '{"a": 1}', '["resize", {"width": -1, "height": 1e9}]'):
            await ws.send_str(junk)
        await ws.send_bytes(b"\x00\xff")
        await ws.send_json(["stdin", "q"])
        while not ws.closed:
            await ws.receive(timeout=60)
    await waited(lambda: "exit status 0" in served.text(), "the session ended by itself")


# A dashboard that will not go: it ignores SIGTERM, spins, and started a child that
# ignores SIGTERM too, in its process group.
STUBBORN = textwrap.dedent(
    f"""
    import signal, subprocess, sys
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c", "import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    sys.stdout.buffer.write({READY!r}); sys.stdout.flush()
    while True:
        pass
    """
)


async def test_a_process_that_ignores_sigterm_is_killed_with_its_group() -> None:
    app = await AppProcess.start([sys.executable, "-c", STUBBORN], 80, 24, grace=0.5)
    packets = app.packets()
    reading = asyncio.create_task(anext(packets, None))
    await waited(lambda: len(in_group(app.pid)) == 2, "the child started")
    await asyncio.wait_for(app.stop(), 60)
    assert app.proc.returncode == -signal.SIGKILL
    assert in_group(app.pid) == []
    assert await reading is None  # its output ended
    await app.stop()  # twice: nothing more to do


async def test_sessions_end_when_the_server_is_killed_with_sigkill(serve_web: Serve) -> None:
    """A server killed outright runs no code: its sessions end by themselves (the kernel
    tells them their parent died)."""
    served = serve_web()
    cookie = await sign_in(served)
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:
        ws = await http.ws_connect(f"{served.base}/ws?width=120&height=40")
        await ws.receive_bytes(timeout=60)  # the dashboard is up, its handlers set
        served.proc.send_signal(signal.SIGKILL)
        served.proc.wait()
        await waited(lambda: in_group(served.started()[0]) == [], "the session ended")
        await ws.close()


# A stand-in for pytest: starts a server as the `serve_web` fixture does, then waits.
STARTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tests.web.conftest import start_web
    print(start_web(Path(sys.argv[1])).proc.pid, flush=True)
    time.sleep(600)
    """
)


def living(pgid: int) -> list[int]:
    """The processes of group `pgid` that still run (a zombie has ended: it only waits for
    whoever adopted it to reap it)."""
    found = []
    for pid in in_group(pgid):
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
    return found


def test_a_server_ends_with_the_test_process_killed_with_sigkill(tmp_path: Path) -> None:
    """pytest killed by `timeout` (SIGKILL) runs no teardown: the servers it started end by
    themselves, with their sessions, and leave no orphan behind."""
    root = Path(__file__).parents[2]
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "web.log")], cwd=root, stdout=subprocess.PIPE
    )
    server = 0
    try:
        assert starter.stdout is not None
        server = int(starter.stdout.readline())
        assert living(server) == [server]  # up, in its own session
        starter.kill()
        starter.wait()
        until(lambda: living(server) == [], "the server ended with its starter", within=30)
    finally:
        starter.kill()
        if server and living(server):
            psutil.Process(server).kill()  # the orphan of a failed test
