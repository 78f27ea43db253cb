"""Report recipients set at run time: an admin sets who gets the reports of a schedule's runs
(the CLI's `schedule set --report-email/--report-webhook`, the dashboard's `M` form); the
addresses are checked; the next run's report reaches them (a real SMTP server, aiosmtpd on
loopback); the setting survives a config reload, like a planning an admin set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input, Static

from jobdash.core.model import Report
from jobdash.core.service import Service
from jobdash.tui.dialogs.edit_planning import TickBox
from jobdash.tui.dialogs.edit_report import EditReportScreen
from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import run_cli, wait_finished
from tests.test_reports import Mailbox, smtp, until  # noqa: F401 (smtp: a fixture)
from tests.tui.pane_harness import SIZE
from tests.tui.pane_harness import until as settled
from tests.tui.test_schedules_pane import pane_app

Open = Callable[..., Awaitable[Service]]


def config(port: int, recipient: str = "config@example.org") -> str:
    return f"""
[jobdash]
admins = ["root"]

[smtp]
host = "127.0.0.1"
port = {port}
tls = false
sender = "jobdash@example.org"

[types.nightly]
command = ["true"]
schedule = {{ planning = "daily: 02:00", report = {{ email = ["{recipient}"] }} }}
"""


@pytest.mark.both_backends
async def test_recipients_set_with_the_cli_get_the_next_report_and_survive_a_reload(
    services: Open,
    write_config: Callable[[str], Path],
    smtp: tuple[Mailbox, int],  # noqa: F811
    store_location: str,
) -> None:
    box, port = smtp
    path = write_config(config(port))
    svc = await services(path)  # its engine publishes the schedule
    env = {"JOBDASH_DB": store_location, "JOBDASH_CONFIG": str(path)}

    r = run_cli("schedule", "set", "nightly", "--report-email", "oncall@example.org", env=env)
    assert r.returncode == 0, r.stderr
    assert "reports to: oncall@example.org (and the type's recipients; set by an admin)" in r.stdout

    # The config changes and an engine starts again (a reload): the admin's choice stays.
    await svc.close()
    path.write_text(config(port, recipient="changed@example.org"))
    svc = await services(path)
    s = await svc.schedule("nightly")
    assert (s.report, s.report_source) == (Report(email=("oncall@example.org",)), "admin")
    shown = run_cli("schedule", "show", "nightly", env=env)
    assert (
        "reports to: oncall@example.org (and the type's recipients; set by an admin)"
        in shown.stdout
    )

    job = await wait_finished(svc, (await svc.run_schedule_now("nightly")).id)
    st = await until(lambda: _sent(svc, job.id))
    assert st["recipients"]["email"] == ["oncall@example.org"]
    (env_,) = box.messages
    assert env_.rcpt_tos == ["oncall@example.org"]

    # Back to the config's recipients: its latest ones.
    r = run_cli("schedule", "set", "nightly", "--report-from-config", env=env)
    assert r.returncode == 0, r.stderr
    assert (await svc.schedule("nightly")).report == Report(email=("changed@example.org",))


async def _sent(svc: Service, job_id: int) -> dict[str, Any] | None:
    st = await svc.store.report_state(job_id)
    return st if st is not None and st["state"] == "sent" else None


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--report-email", "ops at example.org"], 'not an e-mail address (local@domain): "ops'),
        (["--report-email", "Ops <ops@example.org>"], "not a plain e-mail address"),
        (["--report-email", "a@example.org\nBcc: x@evil.org"], "not a plain e-mail address"),
        (["--report-email", "a@example.org,b@@example.org"], '"b@@example.org"'),
        (["--report-webhook", "ftp://example.org/x"], 'not an http(s) URL: "ftp://'),
        (["--report-webhook", "https:///nohost"], "not an http(s) URL"),
        (["--report-email", " , "], "--report-email/--report-webhook: no address given"),
        (["--no-report", "--report-from-config"], "cannot go together"),
    ],
)
async def test_bad_recipients_are_refused_in_one_line_and_nothing_changes(
    services: Open,
    write_config: Callable[[str], Path],
    store_location: str,
    args: list[str],
    said: str,
) -> None:
    path = write_config(config(25))
    svc = await services(path)
    env = {"JOBDASH_DB": store_location, "JOBDASH_CONFIG": str(path)}
    r = run_cli("schedule", "set", "nightly", "--every", "5m", *args, env=env)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
    assert said in r.stderr
    s = await svc.schedule("nightly")  # neither the recipients nor the planning changed
    assert (s.report_source, s.planning) == ("config", "automatic")


async def test_the_m_form_checks_addresses_saves_and_gives_back_to_the_config(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(config(25)))
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await settled(pilot, lambda: pane.table.row_count == 1)
        pane.table.focus()
        await pilot.press("enter")
        await settled(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
        details = app.screen
        summary = details.query_one("#schedule-summary", Static)
        await settled(pilot, lambda: "reports to config@example.org" in str(summary.render()))

        await pilot.press("M")
        await settled(pilot, lambda: isinstance(app.screen, EditReportScreen))
        form = app.screen
        email = form.query_one("#report-email", Input)
        error = form.query_one("#report-error", Static)
        email.value = "oncall@example.org, not an address"
        await settled(pilot, lambda: "not an e-mail address" in str(error.render()))
        await pilot.press("ctrl+s")  # refused: the form stays
        await pilot.pause()
        assert app.screen is form
        assert (await svc.schedule("nightly")).report_source == "config"

        email.value = "oncall@example.org, second@example.org"
        form.query_one("#report-webhook", Input).value = "https://hooks.example.org/j"
        await settled(pilot, lambda: str(error.render()) == "")
        await pilot.press("ctrl+s")
        await settled(pilot, lambda: app.screen is details)
        s = await svc.schedule("nightly")
        assert s.report == Report(
            ("oncall@example.org", "second@example.org"), ("https://hooks.example.org/j",)
        )
        await settled(pilot, lambda: "; set by an admin)" in str(summary.render()))

        await pilot.press("M")  # untick "send report": no recipients of the schedule's own
        await settled(pilot, lambda: isinstance(app.screen, EditReportScreen))
        app.screen.query_one("#report-send", TickBox).value = False
        await pilot.press("ctrl+s")
        await settled(pilot, lambda: app.screen is details)
        assert (await svc.schedule("nightly")).report == Report()

        await pilot.press("M")  # back to the config's
        await settled(pilot, lambda: isinstance(app.screen, EditReportScreen))
        app.screen.query_one("#from-config", Button).press()
        await settled(pilot, lambda: app.screen is details)
        s = await svc.schedule("nightly")
        assert (s.report, s.report_source) == (Report(("config@example.org",)), "config")


async def test_a_user_who_is_not_an_admin_is_refused(
    services: Open, write_config: Callable[[str], Path], store_location: str
) -> None:
    path = write_config(config(25))
    await services(path)
    bob = await services(path, user="bob", engine=False)
    with pytest.raises(Exception, match="admin"):
        await bob.set_schedule_report("nightly", Report(("x@example.org",)))
