"""`jobdash schedule preview`, and the cron grammar as the CLI, the scheduler and the
planning editor share it: the day-of-month/day-of-week rule, steps after month names,
refusals (one line each), the common crontab forms, and the engine firing through both
copies of a repeated hour."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.widgets import Input, RadioButton

from jobdash.core.model import BadInput
from jobdash.core.scheduler import Scheduler, schedule_specs
from jobdash.core.service import Service, preview_planning
from jobdash.core.store.records import JobFilter
from jobdash.present.planning import split_planning
from jobdash.tui.dialogs.edit_planning import EditPlanningScreen
from tests.conftest import run_cli
from tests.test_scheduler import set_watermark
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until
from tests.tui.test_schedules_pane import open_service

Open = Callable[..., Awaitable[Service]]


def days(planning: str, start: str, count: int, tz: str = "UTC") -> list[str]:
    """Fire times through the preview's function, as "YYYY-MM-DD HH:MM ddd"."""
    times = preview_planning(planning, tz, count, start)
    return [t.strftime("%Y-%m-%d %H:%M %a") for t in times]


# --------------------------------------------------------------------------- the command


def test_preview_prints_iso_8601_with_offsets_one_a_line(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    r = run_cli(
        "schedule", "preview", "cron: 30 2 * * *", "--tz", "Europe/Paris",
        "--from", "2026-03-27T12:00", "--count", "3", env={"JOBDASH_DB": str(db)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "2026-03-28T02:30:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n"
    )
    assert r.stderr == ""
    assert not db.exists()  # nothing is created or read: no store
    r = run_cli(
        "schedule", "preview", "cron: */15 * * * *", "--tz", "Europe/Paris",
        "--from", "2026-10-25T02:40+01:00", "--count", "2", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["2026-10-25T02:45:00+01:00", "2026-10-25T03:00:00+01:00"]


def test_preview_uses_the_configs_time_zone_and_takes_every_kind(tmp_path: Path) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text('[jobdash]\ntimezone = "Asia/Tokyo"\n')
    env = {"JOBDASH_CONFIG": str(cfg)}
    cases = {
        "@daily": ["2026-01-02T00:00:00+09:00", "2026-01-03T00:00:00+09:00"],
        "interval: 90m": ["2026-01-01T01:30:00+09:00", "2026-01-01T03:00:00+09:00"],
        "daily: mon-fri@09:00": ["2026-01-01T09:00:00+09:00", "2026-01-02T09:00:00+09:00"],
        "once: 2026-06-01T08:00": ["2026-06-01T08:00:00+09:00"],
    }
    for planning, want in cases.items():
        r = run_cli(
            "schedule", "preview", planning, "--from", "2026-01-01T00:00", "--count", "2",
            env=env,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == want, planning


@pytest.mark.parametrize(
    ("planning", "said"),
    [
        ("cron: 0 0 1 JAN-61 *", "month 'JAN-61': 61 is out of range 1-12"),
        ("cron: 0 0 1 JAN--1 *", "month 'JAN--1': '-1' is not a month"),
        ("cron: 0 0 1 JAN-2/ *", "month 'JAN-2/': missing step after '/'"),
        ("cron: * * * * 2/", "day-of-week '2/': missing step after '/'"),
        ("cron: * * * * MON-2/", "day-of-week 'MON-2/': missing step"),
        ("cron: * * * * last", "day-of-week 'last'"),
        ("cron: * * * * sunday", "'sunday' is not a week day (0-7 or sun..sat)"),
        ("cron: 0 0 30 2 *", "'0 0 30 2 *' can never fire: February has no day 30"),
        ("cron: 0 0 31 4 *", "can never fire: April has no day 31"),
        ("cron: 0 0 31 6 *", "can never fire: June has no day 31"),
        ("cron: 0 0 L * *", "'L' (last day of the month) is a cron extension jobdash does not"),
        ("cron: 0 0 15W * *", "'W' (nearest weekday) is a cron extension"),
        ("cron: 0 0 * * mon#2", "'#' (nth week day of the month) is a cron extension"),
        ("cron: 0 0 ? * *", "'?' (no specific value) is a cron extension"),
        ("cron: 0 0 0 * * *", "a seconds or a year field is not supported"),
        ("cron: 0 0 1 nov-feb *", "range 'nov-feb' goes backwards"),
        ("@reboot", "unknown alias '@reboot'"),
        ("0 3 * * *", 'a cron expression is "cron: 0 3 * * *"'),
        ("disabled", "disabled: never fires"),
        ("automatic", "automatic: fires as its job type's planning"),
        ("once: 2020-01-01T00:00", "never fires after"),
    ],
)
def test_what_cannot_fire_is_refused_in_one_line(planning: str, said: str) -> None:
    with pytest.raises(BadInput) as e:
        preview_planning(planning, "UTC", 5, "2026-01-01T00:00")
    assert said in str(e.value) and "\n" not in str(e.value)


def test_the_command_refuses_in_one_line_with_status_2() -> None:
    for args in (
        ["cron: 0 0 30 2 *"],
        ["cron: \x1b[31m * * * *"],
        ["@daily", "--tz", "Mars/Base"],
        ["@daily", "--from", "yesterday"],
        ["@daily", "--count", "1001"],
        ["disabled"],
    ):
        r = run_cli("schedule", "preview", *args)
        assert r.returncode == 2, args
        assert r.stdout == "" and len(r.stderr.splitlines()) == 1, (args, r.stderr)
        assert r.stderr.startswith("jobdash: ") and "\x1b" not in r.stderr


# --------------------------------------------------------------------------- the grammar


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    assert days("cron: 0 0 1 * wed", "2010-01-25T00:00", 4) == [
        "2010-01-27 00:00 Wed",
        "2010-02-01 00:00 Mon",
        "2010-02-03 00:00 Wed",
        "2010-02-10 00:00 Wed",
    ]
    assert days("cron: 0 0 10 * fri", "2020-06-08T00:00", 3) == [
        "2020-06-10 00:00 Wed",
        "2020-06-12 00:00 Fri",
        "2020-06-19 00:00 Fri",
    ]
    # Sundays in February (there is no 31st): four a year.
    assert days("cron: 0 0 31 2 0", "2026-01-01T00:00", 5) == [
        "2026-02-01 00:00 Sun",
        "2026-02-08 00:00 Sun",
        "2026-02-15 00:00 Sun",
        "2026-02-22 00:00 Sun",
        "2027-02-07 00:00 Sun",
    ]


def test_a_field_starting_with_a_star_counts_as_unrestricted() -> None:
    """`*/2` in the day of month with a day of week: both must match (Vixie cron)."""
    assert days("cron: 0 16 */2 * sat", "2023-05-02T00:00", 3) == [
        "2023-05-13 16:00 Sat",
        "2023-05-27 16:00 Sat",
        "2023-06-03 16:00 Sat",
    ]


def test_a_step_after_month_names_counts() -> None:
    got = days("cron: 0 0 1 Jan-Aug/2 *", "2025-12-15T00:00", 5)
    assert [d[:7] for d in got] == ["2026-01", "2026-03", "2026-05", "2026-07", "2027-01"]


def test_common_crontab_forms() -> None:
    assert len(days("cron: 0 0 * * mon-sun", "2026-01-01T00:00", 7)) == 7
    assert [d[-3:] for d in days("cron: 0 0 * * tue-0", "2026-01-05T00:00", 7)] == [
        "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Tue",
    ]  # fmt: skip
    assert days("cron: 0 0 */100 * *", "2026-01-15T00:00", 2) == [
        "2026-02-01 00:00 Sun",
        "2026-03-01 00:00 Sun",
    ]
    start = "2026-01-01T00:30"
    assert days("@yearly", start, 1) == days("@annually", start, 1) == ["2027-01-01 00:00 Fri"]
    assert days("@monthly", start, 1) == ["2026-02-01 00:00 Sun"]
    assert days("@weekly", start, 1) == ["2026-01-04 00:00 Sun"]
    assert days("@daily", start, 1) == days("cron: @midnight", start, 1)
    assert days("@daily", start, 1) == ["2026-01-02 00:00 Fri"]
    assert days("@hourly", start, 2) == ["2026-01-01 01:00 Thu", "2026-01-01 02:00 Thu"]


# --------------------------------------------------------------------------- scheduler, CLI, editor


async def test_schedule_set_refuses_a_date_that_never_occurs(
    services: Open, write_config: Callable[[str], Path], db_path: Path
) -> None:
    path = write_config(CONFIG)
    svc = await services(path, engine=False)
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    env = {"JOBDASH_DB": str(db_path), "JOBDASH_CONFIG": str(path)}
    r = run_cli("schedule", "set", "nightly", "--cron", "0 0 31 4 *", env=env)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "can never fire: April has no day 31" in r.stderr
    assert (await svc.schedule("nightly")).planning == "automatic"  # nothing changed
    r = run_cli("schedule", "set", "nightly", "--cron", "@weekly", "--tz", "UTC", env=env)
    assert r.returncode == 0, r.stderr
    assert "cron: @weekly (UTC)" in r.stdout and "next: Sun" in r.stdout


async def test_the_engine_fires_a_cadence_in_both_copies_of_the_repeated_hour(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    paris = ZoneInfo("Europe/Paris")
    svc = await services(
        write_config(
            '[jobdash]\ntimezone = "Europe/Paris"\n'
            '[types.often]\ncommand = ["true"]\nschedule = "cron: */30 2 * * *"\n'
        ),
        engine=False,
    )
    sched = Scheduler(svc)
    await sched.sync()
    await svc.set_schedule_policy("often", overlap="queue")  # no agent: jobs stay queued

    await set_watermark(svc, "often", datetime(2026, 10, 25, 1, tzinfo=paris).timestamp())
    for h, m, fold in ((2, 0, 0), (2, 30, 0), (2, 0, 1), (2, 30, 1), (3, 0, 1)):
        await sched.run_once(now=datetime(2026, 10, 25, h, m, tzinfo=paris, fold=fold).timestamp())
    jobs = await svc.store.list_jobs(JobFilter(schedule_id="often", oldest_first=True))
    assert [datetime.fromtimestamp(j.fire_time or 0, paris).strftime("%H:%M%z") for j in jobs] == [
        "02:00+0200",
        "02:30+0200",
        "02:00+0100",
        "02:30+0100",
    ]
    await sched.stop()


def test_the_editor_prefills_through_the_shared_parser() -> None:
    assert split_planning("daily: sat-sun@10:00,9:05") == (
        "daily",
        "",
        {"sat", "sun"},
        "09:05,10:00",
    )
    assert split_planning("cron: @daily") == ("cron", "@daily", set(), "")
    assert split_planning("@weekly") == ("cron", "@weekly", set(), "")


async def test_the_editor_previews_and_refuses_as_the_cli_does(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await open_service(services, write_config)
    dialog = EditPlanningScreen(svc, await svc.schedule("nightly"))
    app = PaneApp(svc, screen=lambda: dialog)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen is dialog)
        assert split_planning((await svc.schedule("nightly")).planning)[0] == "automatic"
        dialog.query_one("#kind-cron", RadioButton).value = True
        dialog.query_one("#tz", Input).value = "UTC"
        cron = dialog.query_one("#cron", Input)
        cron.value = "0 0 31 2 *"
        await pilot.pause()
        assert dialog.error == "cron: '0 0 31 2 *' can never fire: February has no day 31"
        cron.value = "0 0 1 * wed"
        await pilot.pause()
        assert not dialog.error
        first = dialog.fire_times[0]
        cli = preview_planning("cron: 0 0 1 * wed", "UTC", 5, first.isoformat())
        assert dialog.fire_times[1:] == cli[:4]  # the same times as the CLI's
        assert all(t.strftime("%a") == "Wed" or t.day == 1 for t in dialog.fire_times)
        await pilot.press("escape")
