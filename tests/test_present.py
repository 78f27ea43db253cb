"""The shared presentation layer: every status has a look, a planning line goes both ways."""

from __future__ import annotations

import pytest

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.planning import parse_planning
from jobdash.present.planning import daily_value, join_planning, split_planning
from jobdash.present.status import Tone, agent_look, exit_text, last_run_look, look
from jobdash.present.timing import info_beside_status
from jobdash.present.words import agree, plural
from tests.tui.job_factory import make_job


@pytest.mark.parametrize("status", [*JobStatus, *TaskStatus])
def test_every_status_has_a_glyph_a_word_and_a_tone(status: JobStatus | TaskStatus) -> None:
    shown = look(status)
    assert shown.word == status.value and len(shown.glyph) == 1
    assert shown.text == f"{shown.glyph} {status.value}"
    assert isinstance(shown.tone, Tone)


@pytest.mark.parametrize("kind", [JobStatus, TaskStatus])
def test_no_two_statuses_of_a_kind_share_a_glyph(kind: type[JobStatus] | type[TaskStatus]) -> None:
    """A status is never told by colour alone: its glyph tells it apart."""
    glyphs = [look(s).glyph for s in kind]
    assert len(set(glyphs)) == len(glyphs)


def test_a_job_and_a_task_of_the_same_word_look_the_same() -> None:
    """ "✘ failed" says the same of a job and of a task, on every screen."""
    shared = {str(s) for s in JobStatus} & {str(s) for s in TaskStatus}
    assert shared == {"running", "succeeded", "failed", "cancelled"}
    for word in shared:
        assert look(JobStatus(word)) == look(TaskStatus(word))
    assert look(JobStatus.FAILED).tone is Tone.BAD


def test_a_schedules_last_run() -> None:
    assert last_run_look(None).glyph == "·"
    assert last_run_look("failed") == look(JobStatus.FAILED)
    assert last_run_look("from-a-newer-engine").glyph == "?"


@pytest.mark.parametrize(
    ("kind", "value", "line"),
    [
        ("cron", " 0 3 * * * ", "cron: 0 3 * * *"),
        ("interval", "5m", "interval: 5m"),
        ("daily", daily_value(["wed", "mon"], "09:00,17:00"), "daily: mon,wed@09:00,17:00"),
        ("daily", daily_value([], "09:00"), "daily: 09:00"),
        ("once", "2031-12-01T09:00", "once: 2031-12-01T09:00"),
        ("disabled", "", "disabled"),
        ("automatic", "", "automatic"),
    ],
)
def test_a_planning_line_is_put_together_and_read_back(kind: str, value: str, line: str) -> None:
    assert join_planning(kind, value) == line
    parse_planning(line)  # the scheduler's parser takes it
    assert split_planning(line)[0] == kind


def test_every_day_ticked_is_the_same_as_none() -> None:
    every = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert daily_value(every, "09:00") == daily_value([], "09:00") == "09:00"


def test_an_agents_state() -> None:
    assert agent_look("busy").text == "▶ busy" and agent_look("stale").tone is Tone.BAD
    assert agent_look("\x1b[2Jnew").text == "? ␛[2Jnew"  # from the store: inert


def test_counted_words_and_their_verbs() -> None:
    assert f"{plural(1, 'task')} {agree(1, 'is', 'are')}" == "1 task is"
    assert f"{plural(2, 'task')} {agree(2, 'is', 'are')}" == "2 tasks are"


def test_a_failure_trend_of_seconds_says_less_than_a_second_per_bar() -> None:
    """12 bars over 3 s are a quarter second each: "per <1s", not "per 0s"."""
    from jobdash.core.views import FailureGroup
    from jobdash.present.failures import trend_span

    def span(seconds: float) -> str:
        g = FailureGroup("f", "boom", 1, 1, 1, 0.0, 0.0, trend=[0] * 12, trend_end=seconds)
        return trend_span(g)

    assert span(3.0) == "per <1s, over 3s"
    assert span(24 * 3600.0) == "per 2h00m, over 1d0h"


def test_a_process_killed_by_a_signal_is_shown_by_its_name() -> None:
    """`show`'s EXIT and the details' outcome said -15 for a task stopped at its timeout."""
    assert [exit_text(c) for c in (None, 0, 3, -15, -9, -99)] == [
        "",
        "0",
        "3",
        "SIGTERM",
        "SIGKILL",
        "signal 99",
    ]


def test_a_rows_info_says_waiting_once_beside_its_status() -> None:
    """A waiting job's row drops the "waiting: " its status cell already shows (at 80
    columns the reason kept three cells); a running job whose info starts so keeps it,
    as its status does not say it."""
    waiting = make_job(1, JobStatus.WAITING, info="waiting: exclusive slot held by job 4")
    assert info_beside_status(waiting) == "exclusive slot held by job 4"
    running = make_job(2, JobStatus.RUNNING, info="waiting: agent lost: task #1")
    assert info_beside_status(running) == "waiting: agent lost: task #1"
