"""Stall reports (core/stalls.py): a real silent command past its type's `stall_after` is
reported once per task attempt, by e-mail to a real SMTP server (aiosmtpd) and by a POST to a
real webhook, on loopback; a chatty task is not; more engines do not report it again."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobdash.core import reports, stalls, timing
from jobdash.core.service import Service
from tests.conftest import wait_finished
from tests.test_reports import Hook, Mailbox, hook, smtp, smtp_table, until  # noqa: F401

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look for stalls often, and retry a failed send soon."""
    monkeypatch.setattr(stalls, "STALL_EVERY", 0.2)
    monkeypatch.setattr(reports, "BACKOFF", (0.2, 0.2))


@dataclass
class Reporting:
    """The loopback mailbox and webhook, and engines opened on the test's store with a
    config of types (`REPORT` in them: these recipients)."""

    box: Mailbox
    state: Hook
    url: str
    port: int
    services: Open
    write_config: Callable[[str], Path]

    async def open(self, types: str) -> Service:
        recipients = f'email = "ops@example.org", webhook = ["{self.url}"]'
        text = smtp_table(self.port) + types.replace("REPORT", recipients)
        return await self.services(self.write_config(text))


@pytest.fixture
def reporting(
    services: Open,
    write_config: Callable[[str], Path],
    smtp: tuple[Mailbox, int],  # noqa: F811
    hook: tuple[Hook, str],  # noqa: F811
) -> Reporting:
    return Reporting(smtp[0], hook[0], hook[1], smtp[1], services, write_config)


SILENT = """
[types.silent]
items = ["db-sync"]
command = ["sh", "-c", "echo 'copying <b>[red]tables' ; sleep 5; echo done"]
stall_after = "1s"
report = { REPORT, stalls = true }
"""
CHATTY = """
[types.chatty]
command = ["sh", "-c", "for i in $(seq 25); do echo tick $i; sleep 0.2; done"]
stall_after = "3s"
report = { REPORT, stalls = true }
"""
UNASKED = """
[types.unasked]
command = ["sh", "-c", "sleep 3"]
stall_after = "1s"
report = { REPORT }
"""


def stall_mails(box: Mailbox) -> list[Any]:
    msgs = [email.message_from_bytes(m.content, policy=email.policy.default) for m in box.messages]
    return [m for m in msgs if "stalled" in m["Subject"]]


def stall_posts(state: Hook) -> list[dict[str, Any]]:
    return [b for b in state.bodies if b["event"] == "task_stalled"]


async def system_lines(svc: Service, job_id: int) -> list[str]:
    return [ln.text for ln in await svc.logs(job_id) if ln.stream == "system"]


async def test_a_silent_task_is_reported_once_by_mail_and_webhook_across_engines(
    reporting: Reporting,
) -> None:
    box, state = reporting.box, reporting.state
    state.fail = 1  # the first POST fails: the sender's retry delivers it
    svc = await reporting.open(SILENT)
    job = await svc.submit("silent")
    await until(lambda: asyncio.sleep(0, stall_posts(state) and stall_mails(box)))
    # Two more engines come up on the store while the task is still silent (and a restarted
    # engine is one of them: its watch remembers nothing, the store does).
    await reporting.open(SILENT)
    await reporting.open(SILENT)
    done = await wait_finished(svc, job.id)
    assert str(done.status) == "succeeded"
    await asyncio.sleep(1.0)  # time for a duplicate to show up, were there one

    (post,) = stall_posts(state)
    assert state.tries >= 2  # one failed, then one delivered
    assert (post["job"], post["type"], post["task"], post["task_name"]) == (
        job.id,
        "silent",
        1,
        "db-sync",
    )
    assert post["attempt"] == 1 and post["stall_after"] == 1.0
    assert post["stall_after_from"] == "config"
    # Told when silent longer than 1 s, and written to the millisecond: 1.0004 s is 1.0.
    assert 1.0 <= post["silent"] < 4.0
    assert post["last_line"] == "copying <b>[red]tables"  # as written: data, never markup

    (mail,) = stall_mails(box)
    assert mail["To"] == "ops@example.org" and mail["X-Jobdash-Job"] == str(job.id)
    assert mail["Subject"].startswith(f"[jobdash] job {job.id} silent: task #1 stalled (silent ")
    body = mail.get_content().replace("\r\n", "\n")
    words = " ".join(body.split())  # its first paragraph is wrapped
    assert f"Task #1 (db-sync) of job {job.id} (silent), attempt 1" in words
    assert "stall_after of 1s (its type's setting)" in words
    assert "Its last line:\n\n  copying <b>[red]tables\n" in body

    (row,) = await svc.store.stall_reports_of(job.id)
    assert (row["attempt"], row["state"], row["attempts"]) == (1, "sent", 1)
    notes = [t for t in await system_lines(svc, job.id) if t.startswith("task #1 stalled")]
    assert notes[0].startswith("task #1 stalled: report failed (webhook to ")
    assert notes[-1] == "task #1 stalled: report sent (2 recipients)"


async def test_a_chatty_task_and_a_type_that_does_not_ask_are_not_reported(
    reporting: Reporting,
) -> None:
    box, state = reporting.box, reporting.state
    svc = await reporting.open(CHATTY + UNASKED)
    chatty = await svc.submit("chatty")
    unasked = await svc.submit("unasked")
    for j in (chatty, unasked):
        await wait_finished(svc, j.id)
    # Both jobs' end reports went out; the unasked type's task was stalled (flagged), and
    # neither reported a stall.
    await until(lambda: asyncio.sleep(0, len(state.bodies) == 2 and len(box.messages) == 2))
    await asyncio.sleep(0.5)
    assert stall_posts(state) == [] and stall_mails(box) == []
    assert {b["event"] for b in state.bodies} == {"job_finished"}
    assert await svc.store.stall_reports_of(chatty.id) == []
    assert await svc.store.stall_reports_of(unasked.id) == []


async def test_a_task_that_talks_again_is_not_reported_again_but_its_next_attempt_is(
    reporting: Reporting,
) -> None:
    box, state = reporting.box, reporting.state
    # Each attempt: silent 2.5 s (stalled), a line (alive again), silent 2.5 s (stalled
    # again), then it fails; the one retry does the same.
    types = """
[types.flaky]
command = ["sh", "-c", "sleep 2.5; echo again; sleep 2.5; exit 1"]
stall_after = "1s"
retries = 1
backoff = "0.1s"
report = { REPORT, stalls = true }
"""
    svc = await reporting.open(types)
    job = await wait_finished(svc, (await svc.submit("flaky")).id, timeout=30)
    assert str(job.status) == "failed"
    await until(lambda: asyncio.sleep(0, len(stall_posts(state)) == 2))
    await asyncio.sleep(0.5)
    posts = stall_posts(state)
    assert sorted(p["attempt"] for p in posts) == [1, 2]
    # Each attempt first stalls before its line: it has written none (the first attempt's
    # line is not the second's).
    assert [p["last_line"] for p in posts] == [None, None]
    assert len(stall_mails(box)) == 2
    rows = await svc.store.stall_reports_of(job.id)
    assert [(r["attempt"], r["state"]) for r in rows] == [(1, "sent"), (2, "sent")]


async def test_a_type_without_stall_after_is_held_to_one_from_its_history(
    reporting: Reporting, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timing, "STALL_FLOOR", 1.0)  # a derived limit of 1 s, not 60
    box, state = reporting.box, reporting.state
    # Its runs take a moment (history: 3 quick runs, p90 well under 0.5 s), until one whose
    # task hangs silent; no stall_after in the config.
    types = """
[types.usual]
params.nap = { default = "0" }
command = ["sh", "-c", "sleep {nap}"]
report = { REPORT, stalls = true }
"""
    svc = await reporting.open(types)
    for _ in range(3):
        await wait_finished(svc, (await svc.submit("usual")).id)
    hung = await svc.submit("usual", {"nap": "4"})
    await until(lambda: asyncio.sleep(0, stall_posts(state)))
    (post,) = stall_posts(state)
    assert (post["job"], post["stall_after"], post["stall_after_from"]) == (hung.id, 1.0, "history")
    await until(lambda: asyncio.sleep(0, stall_mails(box)))
    (mail,) = stall_mails(box)
    assert "stall_after of 1s (from its type's history)" in " ".join(mail.get_content().split())
    assert "It has written no line." in mail.get_content()
