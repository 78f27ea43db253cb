"""Execution reports to a real SMTP server (aiosmtpd) and a real HTTP server, on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from jobdash.core import reports
from jobdash.core.service import Service
from tests.conftest import wait_finished

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield box, port
    finally:
        ctl.stop()


class Hook:
    """A webhook receiver that answers 500 to the first `fail` POSTs."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.tries = 0
        self.fail = 0
        self.lock = threading.Lock()


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.tries += 1
                failing = state.tries <= state.fail
                if not failing:
                    assert self.headers["Content-Type"] == "application/json"
                    state.bodies.append(json.loads(body))
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def smtp_table(port: int) -> str:
    """The config's [smtp], for the loopback server on `port`."""
    return f"""
[smtp]
host = "127.0.0.1"
port = {port}
tls = false
sender = "jobdash@example.org"
"""


def config(port: int, url: str, emails: str = '["ops@example.org"]') -> str:
    return (
        smtp_table(port)
        + f"""
[types.half]
description = "one item fails"
items = ["fine", "broken"]
command = ["sh", "-c", "echo line {{item}}; echo oops-{{item}} >&2; test {{item}} = fine || exit 3"]
report = {{ email = {emails}, webhook = ["{url}"] }}
"""
    )


async def until(cond: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await cond()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return value


async def test_report_reaches_smtp_and_webhook_with_status_counts_failures_and_log(
    services: Open,
    write_config: Callable[[str], Path],
    smtp: tuple[Mailbox, int],
    hook: tuple[Hook, str],
) -> None:
    box, port = smtp
    state, url = hook
    svc = await services(write_config(config(port, url)))
    job = await wait_finished(svc, (await svc.submit("half")).id)
    assert str(job.status) == "failed"
    await until(lambda: _sent(svc, job.id))

    (env,) = box.messages
    assert env.rcpt_tos == ["ops@example.org"] and env.mail_from == "jobdash@example.org"
    msg = email.message_from_bytes(env.content, policy=email.policy.default)
    assert msg["Subject"] == f"[jobdash] job {job.id} half failed (1/2 ok, 1 failed)"
    body = msg.get_content().replace("\r\n", "\n")
    assert "Status:     failed" in body
    assert "Tasks:      2 total, 1 succeeded, 1 failed, 0 cancelled, 0 skipped" in body
    assert "Duration:   " in body
    assert "Failed tasks:\n  #2 broken: exit 3: oops-broken, attempt 1" in body
    assert "stdout: line broken" in body and "stderr: oops-fine" in body

    (r,) = state.bodies
    assert (r["job"], r["type"], r["status"]) == (job.id, "half", "failed")
    assert r["counts"] == {"total": 2, "succeeded": 1, "failed": 1, "cancelled": 0, "skipped": 0}
    assert isinstance(r["duration"], float) and r["duration"] >= 0
    assert r["failed_tasks"] == [
        {"seq": 2, "name": "broken", "attempt": 1, "exit_code": 3, "error": "exit 3: oops-broken"}
    ]
    tail = [(ln["task"], ln["stream"], ln["text"]) for ln in r["log_tail"]]
    assert (1, "stdout", "line fine") in tail and (2, "stderr", "oops-broken") in tail
    system = [ln.text for ln in await svc.logs(job.id) if ln.stream == "system"]
    assert "report sent (2 recipients)" in system


async def _sent(svc: Service, job_id: int) -> bool:
    st = await svc.store.report_state(job_id)
    return st is not None and st["state"] == "sent"


async def test_failed_send_is_logged_on_the_job_and_retried_without_resending(
    services: Open,
    write_config: Callable[[str], Path],
    smtp: tuple[Mailbox, int],
    hook: tuple[Hook, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reports, "BACKOFF", (0.2, 0.2, 0.2))
    box, port = smtp
    state, url = hook
    state.fail = 2
    svc = await services(write_config(config(port, url)))
    job = await wait_finished(svc, (await svc.submit("half")).id)
    await until(lambda: _sent(svc, job.id))
    assert state.tries == 3 and len(state.bodies) == 1
    assert len(box.messages) == 1  # the e-mail went out on the first try and only then
    system = [ln.text for ln in await svc.logs(job.id) if ln.stream == "system"]
    failures = [t for t in system if t.startswith("report failed")]
    assert len(failures) == 2
    assert f"webhook to {url}: HTTP 500" in failures[0] and "retrying in 0.2s" in failures[0]
    assert (await svc.store.report_state(job.id))["attempts"] == 2  # type: ignore[index]
    # The engine carried on all along.
    again = await wait_finished(svc, (await svc.submit("half")).id)
    assert str(again.status) == "failed"


async def test_unreachable_smtp_gives_up_after_the_retries_and_the_engine_goes_on(
    services: Open,
    write_config: Callable[[str], Path],
    hook: tuple[Hook, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reports, "BACKOFF", (0.1,))
    _, url = hook
    svc = await services(write_config(config(free_port(), url)))
    job = await wait_finished(svc, (await svc.submit("half")).id)

    async def failed() -> bool:
        st = await svc.store.report_state(job.id)
        return st is not None and st["state"] == "failed"

    await until(failed)
    system = [ln.text for ln in await svc.logs(job.id) if ln.stream == "system"]
    assert any("giving up after 2 tries" in t and "email to ops@example.org" in t for t in system)
    assert svc.engine is not None and not svc.engine.stopped.is_set()


async def test_each_report_is_sent_by_exactly_one_of_several_engines(
    services: Open,
    write_config: Callable[[str], Path],
    smtp: tuple[Mailbox, int],
    hook: tuple[Hook, str],
) -> None:
    box, port = smtp
    state, url = hook
    cfg = write_config(config(port, url))
    svc = await services(cfg)
    await services(cfg)
    await services(cfg)
    jobs = [(await svc.submit("half")).id for _ in range(6)]
    for j in jobs:
        await wait_finished(svc, j)
        await until(lambda j=j: _sent(svc, j))
    await asyncio.sleep(1.5)  # time for a duplicate to show up, were there one
    assert sorted(b["job"] for b in state.bodies) == jobs
    assert (
        sorted(
            int(m.original_content.split(b"X-Jobdash-Job: ")[1].split(b"\r\n")[0])
            for m in box.messages
        )
        == jobs
    )


async def test_retried_job_reports_again_and_jobs_without_recipients_do_not(
    services: Open,
    write_config: Callable[[str], Path],
    smtp: tuple[Mailbox, int],
    hook: tuple[Hook, str],
) -> None:
    box, port = smtp
    state, url = hook
    text = config(port, url) + '\n[types.quiet]\ncommand = ["true"]\n'
    svc = await services(write_config(text))
    quiet = await wait_finished(svc, (await svc.submit("quiet")).id)
    assert await svc.store.report_state(quiet.id) is None
    job = await wait_finished(svc, (await svc.submit("half")).id)
    await until(lambda: _sent(svc, job.id))
    await svc.retry(job.id)
    await wait_finished(svc, job.id)
    await until(lambda: _sent(svc, job.id))
    await until(lambda: asyncio.sleep(0, len(state.bodies) == 2))
    assert [b["job"] for b in state.bodies] == [job.id, job.id]
    assert len(box.messages) == 2
