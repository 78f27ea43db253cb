"""The job and task lifecycle: every rule of what may happen to a job or a task, in one place.

Plain functions over plain values, no store and no SQL: a store reads what a rule needs, asks
the rule, and applies the answer in the same transaction. It does not decide anything itself,
so two backends cannot drift apart, and "what happens when I cancel" is answered here:

- the legal moves: `JOB_TRANSITIONS`, `TASK_TRANSITIONS` (and `check_task_move`);
- what a request does to a job in each state, or its one-line refusal (`Refused`):
  `decide_cancel`, `decide_pause`, `decide_resume`, `decide_retry`, `decide_clear`; of an agent:
  `decide_drain`;
- admission of a queued or waiting job (`admission`, `refuse_lock`; the words of a wait are
  `core.waiting`'s), a new job admitted as it is created (`admitted_at_submit`), and the
  status of tasks added to a running job (`added_task_status`);
- how a job ends, with its info line and progress: `settle`; whether its type's finalize
  step runs first (`after_last_task`);
- a failed attempt: retried after a backoff while retries remain, said in its log either
  way (`after_failure`);
- an attempt lost with its agent: `judge` (run again alone, failed "agent lost", or
  quarantined) and how a suspect is claimed (`suspect_way`).

What a backend must guarantee (the Store contract refers to this list). Where a rule can only
hold atomically inside the store, the store enforces it in its own statements:

1. Decide and apply in one transaction. A decision is made from values read in the very
   transaction that applies it (one write transaction that locks out other writers, or the
   job row locked first), so no other writer changes the job in between.
2. Counts. A job's pending/running/succeeded/failed/cancelled/skipped columns equal its tasks
   by status after every transaction. Every counted move of a task passes `check_task_move`;
   one the lifecycle does not allow rolls the whole transaction back.
3. Settle in the same transaction. Whenever a transaction leaves a job whose status is in
   `SETTLING` with nothing pending or running, the same transaction asks `after_last_task`:
   it applies `settle` to it (final status, `finished`, info line, progress, its clock
   stopped, its locks released), or adds its finalize step (a task of kind `finalize`,
   pending, the job `finalizing`), or leaves it (a paused job finalizes once resumed).
4. Claims (one holder per attempt). A claim moves pending tasks to running with attempt + 1,
   owner, agent and lease in one statement, only for a job in `CLAIMABLE` (running, or
   finalizing: its finalize step is its one task left), only
   tasks whose `not_before` has passed, never more than the job's `parallel` running at once,
   and only for the claimant's job types. No task attempt is ever held by two owners. A
   suspect (a pending task lost with an agent before) is claimed only as `suspect_way` says:
   alone, by a claimant with nothing running. Among jobs, a slot goes to the job with the
   fewest running tasks first (fair share, best effort).
5. Fenced completion. An outcome is applied only while its task is `running` with the same
   attempt and owner; otherwise it is rejected (reported False) and changes nothing. The same
   fence holds for a release (a claim given back: pending again, attempt - 1).
6. Lock admission. Jobs are admitted oldest first; a job becomes `running` only if none of
   its lock keys (`exclusive` is one) is held by another job, and it takes them in the same
   transaction, each key held by one job at most (a unique key). A job type that refuses to
   wait is refused at submit while a key is held, or awaited by a job ahead in line
   (`refuse_lock`). Keys are released when the job settles.
7. Recovery. The running tasks of an owner whose lease ran out are judged together, as one
   death, by `deaths.judge` (core/deaths.py), and its verdicts applied in one transaction (the lost and charged
   counters included, so that the next death is judged from them).
8. Cancel. The move to `cancelling` and the cancelling of the job's pending tasks are one
   transaction; tasks added to a cancelling job are cancelled as they are added.
9. The job's clock (bookkeeping, no choice in it). `started` is set by the first claim of the
   job. `paused_at` marks the start of a span that is not run time, `idle_time` adds up the
   spans that ended: a pause of a started job opens one, and so does a retry (from the job's
   `finished`, if it had started); the span ends, adding its seconds to `idle_time`, on
   resume, on the cancel of a paused job (`Cancel.ends_pause`), on the first claim after a
   retry, and when the job settles. A task's clock follows its job's (`task_stopped`): a
   claim zeroes the attempt's `idle_time`, and the end of a pause (a resume, a cancel) adds
   the paused span to each running task's and restarts its silence (`active`).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from jobdash.core.model import FINISHED_JOB, JobStatus, Refused, TaskStatus
from jobdash.present.times import clock
from jobdash.present.words import plural

# ----------------------------------------------------------------- legal moves

J = JobStatus
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    J.QUEUED: frozenset({J.WAITING, J.RUNNING, J.PAUSED, J.CANCELLING}),
    J.WAITING: frozenset({J.QUEUED, J.RUNNING, J.PAUSED, J.CANCELLING}),
    # A running job with nothing left to run settles into its final status, or, when its
    # type has a finalize step, becomes `finalizing` while that step runs
    # (`after_last_task`); a paused one settles, or waits to be resumed to finalize.
    J.RUNNING: frozenset({J.PAUSED, J.FINALIZING, J.CANCELLING}) | FINISHED_JOB,
    J.PAUSED: frozenset({J.RUNNING, J.QUEUED, J.CANCELLING}) | FINISHED_JOB,
    # The finalize step is cancelled like a task (the job then ends cancelled); it is not
    # paused (a pause is refused: the step is the job's last work, short by design).
    J.FINALIZING: frozenset({J.CANCELLING}) | FINISHED_JOB,
    J.CANCELLING: frozenset({J.CANCELLED}),
    # Retry of a finished job re-queues its failed and cancelled tasks.
    J.SUCCEEDED: frozenset(),
    J.WARNING: frozenset(),
    J.FAILED: frozenset({J.RUNNING, J.QUEUED}),
    J.CANCELLED: frozenset({J.RUNNING, J.QUEUED}),
}

T = TaskStatus
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    T.PENDING: frozenset({T.RUNNING, T.CANCELLED, T.SKIPPED}),
    # running -> pending: a failed attempt with retries left, a lost agent's claim, or a
    # claim given back at shutdown.
    T.RUNNING: frozenset({T.SUCCEEDED, T.FAILED, T.CANCELLED, T.PENDING}),
    T.SUCCEEDED: frozenset(),
    # Retry re-queues failed and cancelled tasks as new attempts.
    T.FAILED: frozenset({T.PENDING}),
    T.CANCELLED: frozenset({T.PENDING}),
    # A finalize step set aside by a retry (skipped while the retried tasks run) is pending
    # again once they have ended (`after_last_task`).
    T.SKIPPED: frozenset({T.PENDING}),
}
# The same, as (old, new) pairs: a status enum hashes as its string, so a store's plain
# strings look up here as they are (`check_task_move` is on the completion path).
TASK_MOVES = frozenset((a, b) for a, news in TASK_TRANSITIONS.items() for b in news)


def check_job_transition(job_id: int, old: JobStatus, new: JobStatus) -> None:
    """Raise `Refused` unless `old -> new` is a legal job transition."""
    if new not in JOB_TRANSITIONS[old]:
        raise Refused(f"job {job_id} is {old}; it cannot become {new}")


def check_task_move(job_id: int, old: str, new: str) -> None:
    """Raise RuntimeError unless a task may go from `old` to `new`: a store that tries an
    illegal move has a bug, and its transaction must not be written."""
    if (old, new) not in TASK_MOVES:
        raise RuntimeError(f"job {job_id}: a task cannot go from {old} to {new}")


# ----------------------------------------------------------------- requests

# A job in one of these may be paused.
PAUSABLE = frozenset({J.QUEUED, J.WAITING, J.RUNNING})


class Cancel(NamedTuple):
    """What a cancel request does: the job becomes `status` (cancelling) with this info line
    and its pending tasks cancelled; `force` asks its running tasks to be killed now (a flag
    that stays once set); `action` is the audit's word for it. `ends_pause`: the job was
    paused, and its paused span ends now, as on a resume (its running tasks, stopped until
    then, are resumed to be stopped: the time they take to end is run time, not a pause)."""

    status: JobStatus
    force: bool
    info: str
    action: str
    ends_pause: bool = False


def decide_cancel(
    job_id: int, type_name: str, status: JobStatus, cancellable: bool, force: bool, user: str
) -> Cancel:
    """A cancel (`force`: a forced one, which kills the running tasks at once) of a job in
    `status` by `user`, or `Refused`. A job already being cancelled takes a forced cancel
    only; a type marked `cancellable = false` refuses every cancel."""
    if not cancellable:
        raise Refused(
            f"job {job_id} ({type_name}) cannot be cancelled: its type says cancellable = false",
            "not cancellable",
        )
    if status is J.CANCELLING:
        if not force:
            raise Refused(
                f"job {job_id} is already being cancelled (a forced cancel kills it now)",
                "already cancelling",
            )
    elif status.finished:
        raise Refused(f"job {job_id} has ended ({status}); there is nothing to cancel", "finished")
    else:
        check_job_transition(job_id, status, J.CANCELLING)
    return Cancel(
        J.CANCELLING,
        force,
        f"cancelling (requested by {user})",
        "force-cancel" if force else "cancel",
        status is J.PAUSED,
    )


def decide_pause(job_id: int, status: JobStatus) -> JobStatus:
    """The status a pause request gives a job in `status` (paused), or `Refused`. A paused
    job's running tasks are stopped where they are (their agents keep them), and none of its
    tasks is claimed until it resumes."""
    if status is J.PAUSED:
        raise Refused(f"job {job_id} is already paused", "already paused")
    if status not in PAUSABLE:
        raise Refused(
            f"job {job_id} is {status}; only a queued or running job can be paused",
            "finished" if status.finished else str(status),
        )
    check_job_transition(job_id, status, J.PAUSED)
    return J.PAUSED


def task_stopped(job_status: JobStatus, task_status: TaskStatus) -> bool:
    """A running task of a paused job: stopped where it is (SIGSTOP, or waiting at its
    checkpoint), still `running` in the store and holding its agent's slot, but not running
    time. It shows paused, its clock stands still, and no stall or estimate is told of it."""
    return job_status is J.PAUSED and task_status is T.RUNNING


def decide_resume(job_id: int, status: JobStatus, admitted: bool) -> JobStatus:
    """The status a resume request gives a job in `status`, or `Refused`: running again if
    it had been admitted (it still holds its locks), else queued for admission."""
    if status is not J.PAUSED:
        raise Refused(f"job {job_id} is {status}, not paused", "not paused")
    new = J.RUNNING if admitted else J.QUEUED
    check_job_transition(job_id, status, new)
    return new


def decide_drain(name: str, drained: bool, drain: bool) -> None:
    """Refused when a drain (`drain`) or undrain request would change nothing for agent
    `name`, as every request that would change nothing is: saying so tells the user their
    view was stale, where doing it again quietly would not."""
    if drain and drained:
        raise Refused(f"agent {name} is already drained; nothing to drain")
    if not drain and not drained:
        raise Refused(f"agent {name} is not drained; nothing to undrain")


class Retry(NamedTuple):
    """What a retry request does: the job's failed and cancelled tasks (`tasks` of them) go
    back to pending as new attempts, the job becomes `status` (queued, for admission) with
    this info line; `log` is the job's system log line, `detail` the audit's."""

    status: JobStatus
    tasks: int
    info: str
    log: str
    detail: str


def decide_retry(job_id: int, status: JobStatus, retriable: int, user: str) -> Retry:
    """A retry by `user` of a job in `status` with `retriable` failed or cancelled tasks, or
    `Refused`: only a finished job, and only one with a task to run again."""
    if not status.finished:
        raise Refused(f"job {job_id} is {status}; only a finished job can be retried", "unfinished")
    if retriable == 0:
        raise Refused(
            f"job {job_id} has no failed or cancelled tasks to retry", "without failed tasks"
        )
    check_job_transition(job_id, status, J.QUEUED)
    n = plural(retriable, "task")
    return Retry(
        J.QUEUED,
        retriable,
        f"retrying {n} (by {user})",
        f"retry requested by {user}: {n} queued again",
        n,
    )


def decide_clear(job_id: int, status: JobStatus, owner: str, user: str, admin: bool) -> None:
    """Refused unless `user` may remove the job (its tasks and log) from the store: only a
    finished job, and only their own unless an admin (what `clear` removes, one by one)."""
    if not status.finished:
        raise Refused(f"job {job_id} is {status}; only a finished job can be cleared", "unfinished")
    if not admin and owner != user:
        raise Refused(f"job {job_id} is {owner}'s; only admins clear others' jobs", "not yours")


# ----------------------------------------------------------------- admission and new tasks


def refuse_lock(type_name: str, key: str, holder: int, held: bool = True) -> Refused:
    """The refusal of a job of a type that refuses to wait (`on_lock = "refuse"`) for `key`:
    held by job `holder`, or (`held` False) awaited by it, ahead in line: admission, oldest
    first, would give it the key first, and the new job would wait behind it."""
    how = "held by" if held else "awaited by"
    ahead = "" if held else " (ahead in line)"
    return Refused(f"lock {key} is {how} job {holder}{ahead}; {type_name} refuses to wait")


def admission(status: str, info: str, reason: str | None) -> tuple[JobStatus, str] | None:
    """What admission does to a queued or waiting job with this info line: `reason` says
    why it cannot run now (a held lock, no live engine running its type), None when it can.
    Returns (new status, new info line), or None when nothing changes. A job that waits shows
    why; once admitted, the reason goes (a queued job's own info line stays)."""
    if reason is not None:
        if status == J.WAITING and info == reason:
            return None
        return J.WAITING, reason
    return J.RUNNING, "" if status == J.WAITING else info


def admitted_at_submit(locked: bool, queued_ahead: bool, runnable: bool) -> bool:
    """Whether a new job is created running (admitted in its submission's transaction) rather
    than queued for admission: only when nothing admission weighs could hold it back — it has
    no lock keys (`exclusive` is one: `locked`), no queued job is ahead of it (admission is
    oldest first: `queued_ahead`), and a live agent runs its type and hash (`runnable`: with
    none live, admission would admit it to wait for one; at submit it stays queued, as a job
    submitted where no engine runs). What it skips is a second write of its row a moment
    later, the same move `admission` makes (queued to running, its info line kept)."""
    return not locked and not queued_ahead and runnable


def added_task_status(job_status: str) -> TaskStatus:
    """The status of a task added to a job in `job_status` (a job function adding work):
    pending, or cancelled at once when the job is being cancelled."""
    return T.CANCELLED if job_status == J.CANCELLING else T.PENDING


# ----------------------------------------------------------------- how a job ends

# A job in one of these with nothing pending or running is finished (`settle`), or goes on
# to its finalize step (`after_last_task`).
SETTLING = frozenset({J.RUNNING, J.PAUSED, J.FINALIZING, J.CANCELLING})
# The jobs whose pending tasks a claim takes: running ones, and finalizing ones (their
# finalize step).
CLAIMABLE = frozenset({J.RUNNING, J.FINALIZING})

# The name of a job's finalize step among its tasks (its kind is "finalize").
FINALIZE = "finalize"
FINALIZE_KIND = "finalize"

End = Literal["settle", "finalize", "hold"]


def after_last_task(status: str, has_step: bool) -> End:
    """What becomes of a job in `status` (one of SETTLING) with nothing pending or running;
    `has_step`: its type has a finalize step.

    "finalize": a running job of such a type adds its finalize step (or re-arms the one a
    retry set aside) and becomes `finalizing`: the step runs after the last task, whether
    the tasks succeeded or failed (it sees their results), as a Sidekiq batch's
    `on_complete` does. "hold": a paused one waits to be resumed (nothing new starts while
    a job is paused, and the step is new work). "settle": everything else ends now — a job
    without a step (in the transaction of its last task, as always), a finalizing job whose
    step has ended, and a job being cancelled (a cancelled job is not finalized)."""
    if not has_step or status in (J.FINALIZING, J.CANCELLING):
        return "settle"
    return "hold" if status == J.PAUSED else "finalize"


def finalizing_info(total: int) -> str:
    """The info line of a job whose finalize step starts after its `total` tasks (the
    step's own output replaces it as it writes)."""
    return f"finalizing after {plural(total, 'task')}"


class Settled(NamedTuple):
    """A job's end: its final status, info line and progress (0..100)."""

    status: JobStatus
    info: str
    progress: float


def settle(
    status: str,
    total: int,
    failed: int,
    cancelled: int,
    warnings: int,
    first_failure: tuple[str, str] | None = None,
    step: tuple[str, str] | None = None,
) -> Settled:
    """How a job in `status` (one of SETTLING) with nothing pending or running ends, from its
    task counts and warnings; `first_failure` is (name, error) of its first failed task.
    `step`: (status, error) of its finalize step when it has one.

    The counts are the job's counters as they stand, its finalize step included: the step
    is one of its tasks (a row, numbered, claimed, logged, counted in `Job.total` and in the
    job's progress), so the info line speaks of the same tasks as the `8/8` beside it
    (`8 tasks done, finalized`, not `7 tasks done` under `8/8`). Only what decides the end
    looks at the other tasks apart from the step.

    A job being cancelled ends cancelled; else one failed task fails the job, one cancelled
    task (and none failed) cancels it, warnings make a warning, and it succeeded otherwise. A
    cancelled job's progress is the work that was done, not a full bar. A finalize step that
    failed fails the job with the step's error (said after the tasks' failures, if any); one
    cancelled cancels it."""
    tasks = plural(total, "task")
    step_status, step_error = step or ("", "")
    others = total - (step is not None)
    others_failed = failed - (step_status == T.FAILED)
    others_cancelled = cancelled - (step_status == T.CANCELLED)
    if status == J.CANCELLING:
        final, info = J.CANCELLED, f"cancelled ({cancelled} of {tasks} cancelled)"
        if step_status == T.CANCELLED:
            info = f"cancelled while finalizing ({cancelled} of {tasks} cancelled)"
    elif others_failed:
        final = J.FAILED
        detail = f" — first: {first_failure[0]}: {first_failure[1]}" if first_failure else ""
        info = f"{failed} of {tasks} failed{detail}"
        if step_status == T.FAILED:
            info += f"; finalize failed: {step_error}"
    elif step_status == T.FAILED:
        final, info = J.FAILED, f"finalize failed: {step_error}"
    elif others_cancelled:
        final, info = J.CANCELLED, f"{cancelled} of {tasks} cancelled"
    elif step_status == T.CANCELLED:
        final, info = J.CANCELLED, f"finalize cancelled after {plural(others, 'task')}"
    elif warnings:
        final, info = J.WARNING, f"{tasks} done with {plural(warnings, 'warning')}"
    else:
        final, info = J.SUCCEEDED, f"{tasks} done"
    if step_status == T.SUCCEEDED and final is not J.CANCELLED:
        info += "; finalized" if failed else ", finalized"
    progress = 100.0 * (total - cancelled) / total if cancelled and total else 100.0
    return Settled(final, info, progress)


# ----------------------------------------------------------------- failed and lost attempts


def attempts_left(attempt: int, base_attempt: int, retries: int) -> bool:
    """Whether a task whose attempt `attempt` just ended may run again: `retries` more
    attempts are allowed after the first one since the last retry request (`base_attempt`:
    the attempt number then)."""
    return attempt - base_attempt <= retries


class Failure(NamedTuple):
    """A failed attempt's fate: run again after `delay` seconds (None: it stays failed),
    said in its task's log by `line` (jobdash's own note, the "system" stream), so that
    whoever reads the log sees why the task stopped or when it comes back."""

    delay: float | None
    line: str


def released(job_status: JobStatus | str) -> TaskStatus:
    """What a claim given back (a graceful stop, a forfeit) makes of its task, no attempt
    counted: pending, to run again; cancelled when its job is being cancelled (as the job's
    pending tasks were at the cancel: a pending task would keep it cancelling for ever)."""
    return T.CANCELLED if JobStatus(job_status) is J.CANCELLING else T.PENDING


def after_failure(
    name: str,
    attempt: int,
    base_attempt: int,
    retries: int,
    backoff: float,
    job_status: str,
    error: str,
    now: float,
) -> Failure:
    """What becomes of task `name` whose attempt `attempt` failed with `error` at `now`: run
    again after a backoff that doubles with each attempt (`backoff` seconds before the first
    retry) while retries remain and its job (in `job_status`) is not being cancelled; else
    it stays failed. Either way its log says so: "copy: attempt 2 of 3 failed (exit 1);
    retrying in 4.0s (at 18:03:12 UTC)", "… attempt 3 of 3 failed (exit 1); no retries
    left" (the last attempt counts from the last retry request, `base_attempt`)."""
    last = base_attempt + retries + 1
    said = f"{name}: attempt {attempt} of {last} failed" + (f" ({error})" if error else "")
    if job_status == J.CANCELLING:
        return Failure(None, f"{said}; not run again: the job is being cancelled")
    if not attempts_left(attempt, base_attempt, retries):
        return Failure(None, f"{said}; no retries left")
    delay = backoff * (2 ** max(0, attempt - base_attempt - 1))
    return Failure(delay, f"{said}; retrying in {delay:.1f}s (at {clock(now + delay, now)})")
