"""Schedules that cannot fire: refused by `check` when the config makes it certain, else an
`error` tick with its reason, shown by the CLI and reported once per distinct error; and a
schedule's state (enabled, disabled, manual only, error) told truthfully."""

from __future__ import annotations

import asyncio
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.planning import Tick
from jobdash.core.scheduler import Scheduler
from jobdash.core.service import Service
from jobdash.core.store.base import open_store
from tests.conftest import run_cli, wait_finished
from tests.test_reports import Hook, Mailbox, hook, smtp  # noqa: F401 (fixtures)

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]

REQUIRED = """
[types.importer]
params.source = { required = true, help = "folder to import from" }
command = ["echo", "{source}"]
schedule = "interval: 1s"
"""


def test_check_and_serve_refuse_a_schedule_that_cannot_fill_a_required_parameter(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(REQUIRED)
    db = tmp_path / "never.db"
    for command in ("check", "serve"):
        r = run_cli(command, "--config", str(cfg), "--db", str(db), timeout=20)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        line = lines[0]
        assert str(cfg) in line and "types.importer" in line and "'source'" in line, line
        assert "Traceback" not in r.stderr and r.stdout == ""
    assert not db.exists()  # refused before the store was opened
    # With a default (or not required) the schedule can run: the config is fine.
    cfg.write_text(REQUIRED.replace("required = true,", 'required = true, default = "/srv",'))
    r = run_cli("check", "--config", str(cfg), "--db", str(db))
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def flaky_config(reason: Path, smtp_port: int, url: str) -> str:
    """A type whose items command fails with the text of `reason`, fired every second."""
    return (
        "[smtp]\n"
        'host = "127.0.0.1"\n'
        f"port = {smtp_port}\n"
        "tls = false\n"
        'sender = "jobdash@example.org"\n'
        "\n"
        "[types.flaky]\n"
        f'params.why = {{ default = "{reason}" }}\n'
        'items = { command = ["sh", "-c", "cat \\"$0\\" >&2; exit 3", "{why}"] }\n'
        'command = ["true"]\n'
        'schedule = { planning = "interval: 1s", report = { email = "ops@example.org", '
        f'webhook = "{url}" }} }}\n'
    )


def error_ticks(db: Path) -> list[tuple[float, str]]:
    if not db.exists():  # the engine has not created the store yet
        return []

    async def read() -> list[Tick]:
        store = await open_store(str(db))
        try:
            return await store.ticks("flaky", limit=1_000_000)
        finally:
            await store.close()

    return sorted((t.fire_time, t.detail) for t in asyncio.run(read()) if t.outcome == "error")


def wait_until(cond: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


@pytest.fixture
def serve() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [sys.executable, "-m", "jobdash", "serve"],
            env=dict(os.environ, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        started.append(p)
        return p

    yield start
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)


def test_a_failing_fire_is_an_error_tick_shown_by_the_cli_and_reported_once_per_error(
    tmp_path: Path,
    serve: Callable[..., subprocess.Popen[bytes]],
    smtp: tuple[Mailbox, int],  # noqa: F811
    hook: tuple[Hook, str],  # noqa: F811
) -> None:
    box, port = smtp
    received, url = hook
    reason = tmp_path / "reason"
    reason.write_text("disk /srv/in is not mounted\n")
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(flaky_config(reason, port, url))
    db = tmp_path / "flaky.db"
    env = {"JOBDASH_DB": str(db), "JOBDASH_CONFIG": str(cfg), "TZ": "Europe/Paris"}
    engine = serve(env)

    wait_until(lambda: len(error_ticks(db)) >= 3 and len(received.bodies) >= 1)
    first = error_ticks(db)
    assert all("sh exited 3: disk /srv/in is not mounted" in d for _, d in first), first
    wait_until(lambda: len(error_ticks(db)) >= len(first) + 3)
    assert len(received.bodies) == 1  # the same error, every second: reported once
    body = received.bodies[0]
    assert body["event"] == "fire_failed" and body["schedule"] == "flaky"
    assert body["status"] == "error" and "disk /srv/in is not mounted" in body["error"]
    assert body["fire_time"].endswith(("+01:00", "+02:00")), body  # ISO 8601, Paris offset

    # The CLI shows the error and its reason while it lasts.
    wide = dict(env, COLUMNS="200")
    r = run_cli("schedules", env=wide)
    assert r.returncode == 0, r.stderr
    row = next(ln for ln in r.stdout.splitlines() if "flaky" in ln)
    assert "✘ error" in row, r.stdout
    assert "disk /srv/in is not mounted" in r.stdout
    r = run_cli("schedule", "show", "flaky", env=wide)
    assert r.returncode == 0, r.stderr
    state = next(ln for ln in r.stdout.splitlines() if "state:" in ln)
    assert "✘ error" in state and "disk /srv/in is not mounted" in state, r.stdout
    assert sum("✘ error" in ln and "not mounted" in ln for ln in r.stdout.splitlines()) >= 3
    r = run_cli("schedules", "--json", env=env)
    (s,) = json.loads(r.stdout)
    assert s["state"] == "error" and "not mounted" in s["error"]

    # Another error: reported again, once.
    reason.write_text("permission denied on /srv/in\n")
    wait_until(lambda: "permission denied" in error_ticks(db)[-1][1])
    wait_until(lambda: len(received.bodies) >= 2)
    n = len(error_ticks(db))
    wait_until(lambda: len(error_ticks(db)) >= n + 3)
    assert len(received.bodies) == 2
    assert "permission denied on /srv/in" in received.bodies[1]["error"]

    # The e-mails say the same, with the fire time in ISO 8601 with its offset.
    wait_until(lambda: len(box.messages) >= 2)
    assert len(box.messages) == 2
    msg = BytesParser(policy=email.policy.default).parsebytes(box.messages[0].content)
    assert "flaky" in msg["Subject"] and "fail" in msg["Subject"]
    text = msg.get_content()
    assert "disk /srv/in is not mounted" in text
    assert "+01:00" in text or "+02:00" in text, text
    engine.send_signal(signal.SIGTERM)
    assert engine.wait(timeout=30) == 0
    assert engine.stderr is not None
    assert "Traceback" not in engine.stderr.read().decode()


LOCKED = """
[types.holder]
command = ["sleep", "30"]
locks = ["res"]

[types.guarded]
command = ["true"]
locks = ["res"]
on_lock = "refuse"
schedule = "interval: 1s"
"""


async def until(cond: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await cond()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return value


async def test_a_lock_refusal_is_an_error_until_the_lock_is_free(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(LOCKED))  # an engine with its scheduler
    holder = await svc.submit("holder")

    held = f"lock res is held by job {holder.id}; guarded refuses to wait"

    async def refused_for_the_holder() -> bool:
        # A fire before the holder was admitted is refused too, for a key awaited ahead.
        return (await svc.schedule("guarded")).error == held

    await until(refused_for_the_holder)
    s = await svc.schedule("guarded")
    assert s.state == "error" and s.error == held
    ticks = await svc.ticks("guarded")
    assert ticks[0].outcome == "error" and ticks[0].detail == s.error
    await svc.cancel(holder.id, force=True)
    await wait_finished(svc, holder.id)

    async def enabled_again() -> bool:
        return (await svc.schedule("guarded")).state == "enabled"

    await until(enabled_again)
    assert (await svc.schedule("guarded")).error == ""


EVERY10 = """
[types.every10]
command = ["true"]
schedule = "interval: 10s"
"""


def publish(db: Path, cfg: Path) -> None:
    """What an engine does at start: publish the config's schedules."""

    async def go() -> None:
        svc = await Service.open(db=str(db), config=str(cfg), user="root")
        try:
            await Scheduler(svc).sync()
        finally:
            await svc.close()

    asyncio.run(go())


def test_the_cli_tells_enabled_disabled_and_manual_only_apart(tmp_path: Path) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(EVERY10)
    db = tmp_path / "state.db"
    publish(db, cfg)
    env = {"JOBDASH_DB": str(db), "JOBDASH_CONFIG": str(cfg), "COLUMNS": "200"}

    def row() -> str:
        r = run_cli("schedules", env=env)
        assert r.returncode == 0, r.stderr
        return next(ln for ln in r.stdout.splitlines() if "every10" in ln)

    def state() -> str:
        r = run_cli("schedule", "show", "every10", env=env)
        assert r.returncode == 0, r.stderr
        return next(ln for ln in r.stdout.splitlines() if "state:" in ln)

    def json_state() -> str:
        r = run_cli("schedules", "--json", env=env)
        return str(json.loads(r.stdout)[0]["state"])

    assert "● enabled" in row() and "● enabled" in state() and json_state() == "enabled"
    r = run_cli("schedule", "set", "every10", "--disabled", env=env)
    assert r.returncode == 0, r.stderr
    # The planning never fires: not "enabled", though the schedule was never paused.
    assert "enabled" not in row() and "manual only" in row()
    assert "enabled" not in state() and "manual only" in state()
    assert json_state() == "manual only"
    r = run_cli("schedule", "enable", "every10", env=env)
    assert r.returncode == 0 and "manual" in r.stdout, r.stdout  # says it still won't fire
    r = run_cli("schedule", "disable", "every10", env=env)
    assert r.returncode == 0, r.stderr
    assert "○ disabled" in row() and "○ disabled" in state() and json_state() == "disabled"
    run_cli("schedule", "enable", "every10", env=env)
    run_cli("schedule", "set", "every10", "--automatic", env=env)
    assert "● enabled" in row() and json_state() == "enabled"
