"""The job and task lifecycle (`core.lifecycle`), without a store: every request in every job
status, how a job ends, backoff, agent deaths, and every task move.

The tables below are written out by hand, one row per status, rather than derived from the
lifecycle's own tables: a test parametrised over the status enums fails when a status is
added without a row here, so a new status cannot be forgotten.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from jobdash.core.deaths import (
    QUARANTINE_AFTER,
    SHOW_SUSPECTS,
    SUSPECT_DRAIN,
    LostTask,
    judge,
    suspect_way,
)
from jobdash.core.lifecycle import (
    JOB_TRANSITIONS,
    SETTLING,
    TASK_TRANSITIONS,
    Failure,
    added_task_status,
    admission,
    after_failure,
    after_last_task,
    check_job_transition,
    check_task_move,
    decide_cancel,
    decide_drain,
    decide_pause,
    decide_resume,
    decide_retry,
    refuse_lock,
    settle,
)
from jobdash.core.model import FINISHED_JOB, JobStatus, Refused, TaskStatus
from jobdash.core.waiting import lock_wait

J = JobStatus
T = TaskStatus

# ----------------------------------------------------------------- requests

# Each request, applied to job 7 (type "backup") in a status: the new status, or the refusal.
REQUESTS: dict[str, Callable[[JobStatus], JobStatus]] = {
    "cancel": lambda s: decide_cancel(7, "backup", s, True, False, "alice").status,
    "force cancel": lambda s: decide_cancel(7, "backup", s, True, True, "alice").status,
    "cancel, not cancellable": lambda s: decide_cancel(7, "backup", s, False, False, "al").status,
    "force cancel, not cancellable": lambda s: (
        decide_cancel(7, "backup", s, False, True, "al").status
    ),
    "pause": lambda s: decide_pause(7, s),
    "resume (admitted)": lambda s: decide_resume(7, s, True),
    "resume (not admitted)": lambda s: decide_resume(7, s, False),
    "retry (2 failed or cancelled tasks)": lambda s: decide_retry(7, s, 2, "alice").status,
    "retry (none)": lambda s: decide_retry(7, s, 0, "alice").status,
}

NOT_CANCELLABLE = "job 7 (backup) cannot be cancelled: its type says cancellable = false"


def active(s: str, *, pause: JobStatus | str = J.PAUSED) -> dict[str, JobStatus | str]:
    """The row of a job that is queued, waiting or running."""
    return {
        "cancel": J.CANCELLING,
        "force cancel": J.CANCELLING,
        "pause": pause,
        "resume (admitted)": f"job 7 is {s}, not paused",
        "resume (not admitted)": f"job 7 is {s}, not paused",
        "retry (2 failed or cancelled tasks)": f"job 7 is {s}; only a finished job can be retried",
        "retry (none)": f"job 7 is {s}; only a finished job can be retried",
    }


def finished(s: str, retried: JobStatus | str) -> dict[str, JobStatus | str]:
    """The row of a finished job; `retried`: what a retry with tasks to retry does."""
    return {
        "cancel": f"job 7 has ended ({s}); there is nothing to cancel",
        "force cancel": f"job 7 has ended ({s}); there is nothing to cancel",
        "pause": f"job 7 is {s}; only a queued or running job can be paused",
        "resume (admitted)": f"job 7 is {s}, not paused",
        "resume (not admitted)": f"job 7 is {s}, not paused",
        "retry (2 failed or cancelled tasks)": retried,
        "retry (none)": "job 7 has no failed or cancelled tasks to retry",
    }


EXPECTED: dict[JobStatus, dict[str, JobStatus | str]] = {
    J.QUEUED: active("queued"),
    J.WAITING: active("waiting"),
    J.RUNNING: active("running"),
    J.PAUSED: active("paused", pause="job 7 is already paused")
    | {"resume (admitted)": J.RUNNING, "resume (not admitted)": J.QUEUED},
    # Its finalize step is cancelled like a task; it is not paused.
    J.FINALIZING: active(
        "finalizing", pause="job 7 is finalizing; only a queued or running job can be paused"
    ),
    J.CANCELLING: active(
        "cancelling", pause="job 7 is cancelling; only a queued or running job can be paused"
    )
    | {"cancel": "job 7 is already being cancelled (a forced cancel kills it now)"},
    # A succeeded job has no failed or cancelled task: the first row cannot happen, but the
    # transition table refuses it anyway.
    J.SUCCEEDED: finished("succeeded", "job 7 is succeeded; it cannot become queued"),
    J.WARNING: finished("warning", "job 7 is warning; it cannot become queued"),
    J.FAILED: finished("failed", J.QUEUED),
    J.CANCELLED: finished("cancelled", J.QUEUED),
}
for row in EXPECTED.values():  # no type marked cancellable = false can be cancelled
    row["cancel, not cancellable"] = row["force cancel, not cancellable"] = NOT_CANCELLABLE


@pytest.mark.parametrize("request_name", list(REQUESTS))
@pytest.mark.parametrize("status", list(JobStatus))
def test_every_request_in_every_job_status(status: JobStatus, request_name: str) -> None:
    """The outcome, or the exact one-line refusal, of each request in each status (a status
    without a row in EXPECTED fails here)."""
    expected = EXPECTED[status][request_name]
    decide = REQUESTS[request_name]
    if isinstance(expected, JobStatus):
        new = decide(status)
        assert new is expected
        # Every outcome is a legal move (a forced cancel of a job being cancelled stays).
        assert new in JOB_TRANSITIONS[status] or (status, new) == (J.CANCELLING, J.CANCELLING)
    else:
        with pytest.raises(Refused) as refused:
            decide(status)
        assert str(refused.value) == expected


def test_the_request_table_names_every_request() -> None:
    assert all(set(row) == set(REQUESTS) for row in EXPECTED.values())


def test_what_a_cancel_sets() -> None:
    cancel = decide_cancel(7, "backup", J.RUNNING, True, False, "alice")
    assert (cancel.force, cancel.info, cancel.action) == (
        False,
        "cancelling (requested by alice)",
        "cancel",
    )
    forced = decide_cancel(7, "backup", J.CANCELLING, True, True, "bob")
    assert (forced.force, forced.info, forced.action) == (
        True,
        "cancelling (requested by bob)",
        "force-cancel",
    )


@pytest.mark.parametrize(("n", "words"), [(1, "1 task"), (2, "2 tasks"), (12, "12 tasks")], ids=str)
def test_what_a_retry_sets(n: int, words: str) -> None:
    retry = decide_retry(7, J.FAILED, n, "alice")
    assert (retry.status, retry.tasks) == (J.QUEUED, n)
    assert retry.info == f"retrying {words} (by alice)"
    assert retry.log == f"retry requested by alice: {words} queued again"
    assert retry.detail == words


# ----------------------------------------------------------------- admission


@pytest.mark.parametrize(
    ("status", "info", "reason", "expected"),
    [
        (J.QUEUED, "from the nightly schedule", None, (J.RUNNING, "from the nightly schedule")),
        (J.WAITING, "waiting: lock db held by job 3", None, (J.RUNNING, "")),
        (
            J.QUEUED,
            "",
            "waiting: lock db held by job 3",
            (J.WAITING, "waiting: lock db held by job 3"),
        ),
        (J.WAITING, "waiting: lock db held by job 3", "waiting: lock db held by job 3", None),
        (
            J.WAITING,
            "waiting: lock db held by job 3",
            "waiting: lock db held by job 4",
            (J.WAITING, "waiting: lock db held by job 4"),
        ),
    ],
)
def test_admission(
    status: JobStatus, info: str, reason: str | None, expected: tuple[JobStatus, str] | None
) -> None:
    move = admission(status, info, reason)
    assert move == expected
    if move is not None and move[0] is not status:
        check_job_transition(7, status, move[0])


def test_lock_wordings() -> None:
    assert lock_wait("exclusive", 3) == "waiting: exclusive slot held by job 3"
    assert lock_wait("folder:/srv", 3) == "waiting: lock folder:/srv held by job 3"
    assert str(refuse_lock("backup", "folder:/srv", 3)) == (
        "lock folder:/srv is held by job 3; backup refuses to wait"
    )


@pytest.mark.parametrize("status", list(JobStatus))
def test_tasks_added_to_a_job_being_cancelled_are_cancelled(status: JobStatus) -> None:
    expected = T.CANCELLED if status is J.CANCELLING else T.PENDING
    assert added_task_status(status) is expected


# ----------------------------------------------------------------- how a job ends

# (status, total, failed, cancelled, warnings, first failure) -> (final, info, progress)
SETTLE_CASES: list[tuple[Any, ...]] = [
    (J.RUNNING, 3, 0, 0, 0, None, J.SUCCEEDED, "3 tasks done", 100.0),
    (J.RUNNING, 1, 0, 0, 0, None, J.SUCCEEDED, "1 task done", 100.0),
    (J.RUNNING, 0, 0, 0, 0, None, J.SUCCEEDED, "0 tasks done", 100.0),  # an empty glob
    (J.PAUSED, 2, 0, 0, 0, None, J.SUCCEEDED, "2 tasks done", 100.0),
    (J.RUNNING, 3, 0, 0, 1, None, J.WARNING, "3 tasks done with 1 warning", 100.0),
    (J.RUNNING, 1, 0, 0, 4, None, J.WARNING, "1 task done with 4 warnings", 100.0),
    (
        J.RUNNING,
        5,
        2,
        0,
        0,
        ("copy b", "exit 1"),
        J.FAILED,
        "2 of 5 tasks failed — first: copy b: exit 1",
        100.0,
    ),
    (J.RUNNING, 1, 1, 0, 0, None, J.FAILED, "1 of 1 task failed", 100.0),
    # Failures beat cancelled tasks and warnings; progress leaves out cancelled tasks.
    (J.RUNNING, 4, 1, 1, 3, ("a", "boom"), J.FAILED, "1 of 4 tasks failed — first: a: boom", 75.0),
    (J.RUNNING, 4, 0, 1, 0, None, J.CANCELLED, "1 of 4 tasks cancelled", 75.0),
    (J.PAUSED, 4, 0, 4, 2, None, J.CANCELLED, "4 of 4 tasks cancelled", 0.0),
    # A job being cancelled ends cancelled, whatever failed.
    (
        J.CANCELLING,
        5,
        1,
        3,
        1,
        ("a", "boom"),
        J.CANCELLED,
        "cancelled (3 of 5 tasks cancelled)",
        40.0,
    ),
    (J.CANCELLING, 2, 0, 0, 0, None, J.CANCELLED, "cancelled (0 of 2 tasks cancelled)", 100.0),
    (J.CANCELLING, 0, 0, 0, 0, None, J.CANCELLED, "cancelled (0 of 0 tasks cancelled)", 100.0),
    (J.FINALIZING, 2, 0, 0, 0, None, J.SUCCEEDED, "2 tasks done", 100.0),
]
# With a finalize step: (status, total, failed, cancelled, warnings, first failure, the
# step's (status, error)) -> (final, info); the counts are the job's counters, its step
# included (it is one of its tasks: the info line counts what `Job.total` counts). Each
# case: three tasks (two, four) and the step.
STEP_CASES: list[tuple[Any, ...]] = [
    (J.FINALIZING, 4, 0, 0, 0, None, ("succeeded", ""), J.SUCCEEDED, "4 tasks done, finalized"),
    (
        J.FINALIZING,
        4,
        0,
        0,
        2,
        None,
        ("succeeded", ""),
        J.WARNING,
        "4 tasks done with 2 warnings, finalized",
    ),
    # The step's failure fails the job, with its error.
    (
        J.FINALIZING,
        4,
        1,
        0,
        1,
        None,
        ("failed", "exit 4: no mail server"),
        J.FAILED,
        "finalize failed: exit 4: no mail server",
    ),
    # Tasks failed and the step ran anyway (it sees their results): the job failed.
    (
        J.FINALIZING,
        4,
        1,
        0,
        0,
        ("b", "exit 1"),
        ("succeeded", ""),
        J.FAILED,
        "1 of 4 tasks failed — first: b: exit 1; finalized",
    ),
    (
        J.FINALIZING,
        4,
        2,
        0,
        0,
        ("b", "exit 1"),
        ("failed", "ValueError: x"),
        J.FAILED,
        "2 of 4 tasks failed — first: b: exit 1; finalize failed: ValueError: x",
    ),
    # Cancelled while the step ran: the job ends cancelled.
    (
        J.CANCELLING,
        4,
        0,
        1,
        0,
        None,
        ("cancelled", "cancelled"),
        J.CANCELLED,
        "cancelled while finalizing (1 of 4 tasks cancelled)",
    ),
    # Cancelled while its tasks ran, a retry's step set aside: never finalized.
    (
        J.CANCELLING,
        5,
        0,
        2,
        0,
        None,
        ("skipped", ""),
        J.CANCELLED,
        "cancelled (2 of 5 tasks cancelled)",
    ),
    (
        J.FINALIZING,
        3,
        0,
        1,
        0,
        None,
        ("cancelled", "x"),
        J.CANCELLED,
        "finalize cancelled after 2 tasks",
    ),
]


@pytest.mark.parametrize("case", STEP_CASES)
def test_settle_after_a_finalize_step(case: tuple[Any, ...]) -> None:
    """(status, total, failed, cancelled, warnings, first failure) and the step's end."""
    *counts, step, final, info = case
    end = settle(*counts, step)
    assert (end.status, end.info) == (final, info)
    check_job_transition(7, counts[0], end.status)


# (status, the type has a step) -> what follows the last task
AFTER_LAST_TASK = {
    (J.RUNNING, False): "settle",  # in the transaction of its last task, as always
    (J.PAUSED, False): "settle",
    (J.FINALIZING, False): "settle",
    (J.CANCELLING, False): "settle",
    (J.RUNNING, True): "finalize",
    (J.PAUSED, True): "hold",  # finalizes once resumed
    (J.FINALIZING, True): "settle",  # its step has ended
    (J.CANCELLING, True): "settle",  # a cancelled job is not finalized
}


@pytest.mark.parametrize(
    ("status", "has_step"), list(itertools.product(sorted(SETTLING), (False, True)))
)
def test_what_follows_the_last_task(status: JobStatus, has_step: bool) -> None:
    way = after_last_task(status, has_step)
    assert way == AFTER_LAST_TASK[status, has_step]
    if way == "finalize":
        check_job_transition(7, status, J.FINALIZING)


@pytest.mark.parametrize(
    ("status", "total", "failed", "cancelled", "warnings", "first", "final", "info", "progress"),
    SETTLE_CASES,
)
def test_settle(
    status: JobStatus,
    total: int,
    failed: int,
    cancelled: int,
    warnings: int,
    first: tuple[str, str] | None,
    final: JobStatus,
    info: str,
    progress: float,
) -> None:
    end = settle(status, total, failed, cancelled, warnings, first)
    assert (end.status, end.info, end.progress) == (final, info, progress)
    check_job_transition(7, status, end.status)


@pytest.mark.parametrize("status", sorted(SETTLING))
def test_every_way_a_job_settles_is_a_legal_move(status: JobStatus) -> None:
    for failed, cancelled, warnings in itertools.product((0, 1), repeat=3):
        end = settle(status, 3, failed, cancelled, warnings, ("a", "boom") if failed else None)
        assert end.status in FINISHED_JOB
        check_job_transition(7, status, end.status)


def test_only_active_jobs_settle() -> None:
    assert set(SETTLING) == {J.RUNNING, J.PAUSED, J.FINALIZING, J.CANCELLING}


# ----------------------------------------------------------------- failed attempts


def test_a_failed_attempt_backs_off_doubling_until_retries_run_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """retries = 3, backoff 2 s: attempts 1-3 are run again after 2, 4 and 8 s; the fourth
    fails for good. A retry request (base attempt 4) starts the count and the backoff over.
    Each says so in the task's log, with when it runs again."""
    monkeypatch.setenv("TZ", "UTC")
    now = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    fates = [after_failure("copy", a, 0, 3, 2.0, J.RUNNING, "exit 1", now) for a in (1, 2, 3, 4)]
    assert fates == [
        Failure(2.0, "copy: attempt 1 of 4 failed (exit 1); retrying in 2.0s (at 08:00:02 UTC)"),
        Failure(4.0, "copy: attempt 2 of 4 failed (exit 1); retrying in 4.0s (at 08:00:04 UTC)"),
        Failure(8.0, "copy: attempt 3 of 4 failed (exit 1); retrying in 8.0s (at 08:00:08 UTC)"),
        Failure(None, "copy: attempt 4 of 4 failed (exit 1); no retries left"),
    ]
    assert after_failure("copy", 5, 4, 3, 2.0, J.RUNNING, "exit 1", now) == Failure(
        2.0, "copy: attempt 5 of 8 failed (exit 1); retrying in 2.0s (at 08:00:02 UTC)"
    )
    assert after_failure("copy", 8, 4, 3, 2.0, J.RUNNING, "exit 1", now) == Failure(
        None, "copy: attempt 8 of 8 failed (exit 1); no retries left"
    )


def test_no_retries_means_a_failure_is_final_and_said() -> None:
    assert after_failure("copy", 1, 0, 0, 1.0, J.RUNNING, "exit 1", 0.0) == Failure(
        None, "copy: attempt 1 of 1 failed (exit 1); no retries left"
    )
    assert after_failure("copy", 1, 0, 0, 1.0, J.RUNNING, "", 0.0).line == (
        "copy: attempt 1 of 1 failed; no retries left"
    )


@pytest.mark.parametrize("status", sorted(J))
def test_a_job_being_cancelled_does_not_retry_its_failures(status: JobStatus) -> None:
    fate = after_failure("copy", 1, 0, 3, 1.0, status, "exit 1", 0.0)
    assert (fate.delay is None) is (status is J.CANCELLING)
    if status is J.CANCELLING:
        assert fate.line.endswith("; not run again: the job is being cancelled")


# ----------------------------------------------------------------- agent deaths


def lost(
    task_id: int,
    name: str,
    *,
    lost: int = 0,
    charged: int = 0,
    attempt: int = 2,
    retries: int = 5,
    job_status: str = "running",
) -> LostTask:
    return LostTask(
        task_id, 7, task_id, name, attempt, 0, retries, job_status, lost, charged, "vm-1"
    )


def test_a_task_that_ran_alone_is_charged_with_its_death() -> None:
    (v,) = judge([lost(1, "crash")])
    assert (v.status, v.error, v.lost, v.charged) == (T.PENDING, "agent lost", 1, 1)
    assert v.text == (
        "crash: attempt 2 lost with agent vm-1, where it ran alone: charged with that death "
        "(1 so far); running it again, alone"
    )


def test_a_second_death_alone_quarantines_even_with_retries_left() -> None:
    (v,) = judge([lost(1, "crash", lost=1, charged=QUARANTINE_AFTER - 1)])
    assert (v.status, v.error, v.lost, v.charged) == (
        T.FAILED,
        "quarantined: killed its agent 2 times",
        2,
        2,
    )
    assert v.text.endswith("; quarantined: killed its agent 2 times, not run again")


def test_the_quarantine_threshold_is_a_parameter() -> None:
    (v,) = judge([lost(1, "crash", lost=1, charged=1)], quarantine_after=3)
    assert (v.status, v.charged) == (T.PENDING, 2)
    (v,) = judge([lost(1, "crash", lost=2, charged=2)], quarantine_after=3)
    assert (v.status, v.error) == (T.FAILED, "quarantined: killed its agent 3 times")


def test_the_one_task_lost_before_is_charged_and_its_neighbours_are_not() -> None:
    death = [lost(1, "a"), lost(2, "old", lost=1), lost(3, "c")]
    a, old, c = judge(death)
    assert (old.charged, old.lost, old.status) == (1, 2, T.PENDING)
    assert "which was running 3 tasks; of those, only it was lost with an agent before" in (
        old.text
    )
    for v in (a, c):
        assert (v.charged, v.lost, v.status) == (0, 1, T.PENDING)
        assert "; suspected: job 7 #2 old (lost with an agent before)" in v.text


@pytest.mark.parametrize("before", [0, 2], ids=["none lost before", "two lost before"])
def test_a_death_not_attributable_charges_no_one(before: int) -> None:
    death = [lost(i, f"t{i}", lost=int(i <= before), charged=1) for i in (1, 2, 3)]
    verdicts = judge(death)
    assert [v.charged for v in verdicts] == [1, 1, 1]  # never quarantined for it
    assert all(v.status is T.PENDING for v in verdicts)
    assert all(
        ": not attributable (suspects: job 7 #1 t1, job 7 #2 t2, job 7 #3 t3)" in v.text
        for v in verdicts
    )


def test_a_long_list_of_suspects_is_cut_short() -> None:
    death = [lost(i, f"t{i}") for i in range(1, SHOW_SUSPECTS + 3)]
    assert f"job 7 #{SHOW_SUSPECTS} t{SHOW_SUSPECTS}, 2 more)" in judge(death)[0].text


def test_a_lost_task_without_retries_left_fails() -> None:
    (v,) = judge([lost(1, "copy", attempt=3, retries=2)])
    assert (v.status, v.error) == (T.FAILED, "agent lost")
    assert v.text.endswith("; no retries left")


def test_a_lost_task_of_a_job_being_cancelled_is_cancelled() -> None:
    (v,) = judge([lost(1, "copy", lost=1, charged=1, job_status="cancelling")])
    assert (v.status, v.error, v.charged) == (T.CANCELLED, "agent lost", 2)
    assert v.text.endswith("; the job is being cancelled")


def test_every_verdict_is_a_legal_task_move() -> None:
    for charged, attempt, job_status in itertools.product(
        (0, 1), (1, 9), ("running", "cancelling")
    ):
        death = [lost(1, "a", charged=charged, attempt=attempt, job_status=job_status)]
        for v in judge(death):
            check_task_move(7, T.RUNNING, v.status)


@pytest.mark.parametrize(
    ("ready_since", "idle", "now", "way"),
    [
        (None, True, 100.0, "ordinary"),
        (None, False, 100.0, "ordinary"),
        (90.0, True, 100.0, "alone"),
        (90.0, False, 100.0, "drain"),  # busy agents claim nothing so that one becomes idle
        (100.0 - SUSPECT_DRAIN - 1, False, 100.0, "ordinary"),  # waited long enough: no more
    ],
)
def test_how_a_suspect_is_claimed(
    ready_since: float | None, idle: bool, now: float, way: str
) -> None:
    assert suspect_way(ready_since, idle, now) == way


# ----------------------------------------------------------------- legal moves

LEGAL_TASK_MOVES = {
    (T.PENDING, T.RUNNING),  # claimed
    (T.PENDING, T.CANCELLED),  # its job cancelled
    (T.PENDING, T.SKIPPED),
    (T.RUNNING, T.SUCCEEDED),
    (T.RUNNING, T.FAILED),
    (T.RUNNING, T.CANCELLED),
    (T.RUNNING, T.PENDING),  # a failure with retries left, a lost agent, a release
    (T.FAILED, T.PENDING),  # retry
    (T.CANCELLED, T.PENDING),  # retry
    (T.SKIPPED, T.PENDING),  # a finalize step set aside by a retry, run again at the end
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(TaskStatus, TaskStatus)))
def test_every_task_move(old: TaskStatus, new: TaskStatus) -> None:
    if (old, new) in LEGAL_TASK_MOVES:
        check_task_move(7, old, new)
        check_task_move(7, str(old), str(new))  # a store's plain strings, as they are
    else:
        with pytest.raises(RuntimeError, match=f"job 7: a task cannot go from {old} to {new}"):
            check_task_move(7, old, new)


LEGAL_JOB_MOVES = {
    J.QUEUED: {J.WAITING, J.RUNNING, J.PAUSED, J.CANCELLING},
    J.WAITING: {J.QUEUED, J.RUNNING, J.PAUSED, J.CANCELLING},
    J.RUNNING: {J.PAUSED, J.FINALIZING, J.CANCELLING, *FINISHED_JOB},
    J.PAUSED: {J.RUNNING, J.QUEUED, J.CANCELLING, *FINISHED_JOB},
    J.FINALIZING: {J.CANCELLING, *FINISHED_JOB},
    J.CANCELLING: {J.CANCELLED},
    J.SUCCEEDED: set(),
    J.WARNING: set(),
    J.FAILED: {J.QUEUED, J.RUNNING},
    J.CANCELLED: {J.QUEUED, J.RUNNING},
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(JobStatus, JobStatus)))
def test_every_job_move(old: JobStatus, new: JobStatus) -> None:
    if new in LEGAL_JOB_MOVES[old]:
        check_job_transition(7, old, new)
    else:
        with pytest.raises(Refused, match=f"^job 7 is {old}; it cannot become {new}$"):
            check_job_transition(7, old, new)


def test_the_transition_tables_cover_every_status() -> None:
    assert set(JOB_TRANSITIONS) == set(JobStatus)
    assert set(TASK_TRANSITIONS) == set(TaskStatus)


@pytest.mark.parametrize(
    ("drained", "drain", "refusal"),
    [
        (False, True, None),
        (True, False, None),
        (True, True, "agent a is already drained; nothing to drain"),
        (False, False, "agent a is not drained; nothing to undrain"),
    ],
)
def test_a_drain_request_that_changes_nothing_is_refused(
    drained: bool, drain: bool, refusal: str | None
) -> None:
    if refusal is None:
        decide_drain("a", drained, drain)
    else:
        with pytest.raises(Refused, match=f"^{refusal}$"):
            decide_drain("a", drained, drain)
