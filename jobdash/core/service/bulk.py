"""Acting on many jobs or schedules at once (`Bulk`, a part of the `Service`): the
dashboard's marked rows, the command line's several ids or `--query`.

One place decides. What an action may do to a job is the lifecycle's rule (`decide_*`),
asked here of the jobs as last read, so that a front end can say which of them it would
skip, and why, before it asks (`plan_jobs`); the request itself is each job's own action,
decided again in the store's transaction, so that a job that changed since is skipped then,
counted with the others, not an error (`act_on_jobs`). A request refused as a whole (a
read-only service, a user whom no rule lets take it) is refused before any job is touched;
a job or schedule the user may not act on (`core.permissions`) is skipped with the rules'
refusal, like one the lifecycle refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from jobdash.core.lifecycle import (
    decide_cancel,
    decide_clear,
    decide_pause,
    decide_resume,
    decide_retry,
)
from jobdash.core.model import BadInput, Job, JobStatus, Refused
from jobdash.core.permissions import RIGHT_OF
from jobdash.core.service.failures import Failures

if TYPE_CHECKING:
    from jobdash.core.planning import Schedule
    from jobdash.core.service.answers import Outcome, Plan

T = TypeVar("T")

# What each action is called in a read-only refusal ("read-only: cannot cancel").
JOB_ACTIONS: dict[str, str] = {
    "cancel": "cancel",
    "kill": "cancel",
    "pause": "pause",
    "resume": "resume",
    "retry": "retry",
    "clear": "clear history",
}
# And in an admin-only refusal ("only admins may run a schedule").
SCHEDULE_ACTIONS: dict[str, str] = {
    "run": "run a schedule",
    "enable": "enable a schedule",
    "disable": "disable a schedule",
}


class Bulk(Failures):
    """Plans and requests over many jobs or schedules, made of the single ones."""

    if TYPE_CHECKING:  # the single actions, in the facade

        async def cancel(self, job_id: int, force: bool = False) -> Job: ...
        async def pause(self, job_id: int) -> Job: ...
        async def resume(self, job_id: int) -> Job: ...
        async def retry(self, job_id: int) -> int: ...
        async def clear_jobs(self, job_ids: Sequence[int]) -> int: ...
        async def run_schedule_now(self, schedule_id: str) -> Job: ...
        async def enable(self, schedule_id: str) -> Schedule: ...
        async def disable(self, schedule_id: str) -> Schedule: ...

    # ----------------------------------------------------------------- jobs

    def check_job_action(self, action: str, job: Job) -> None:
        """Raise the refusal that `action` (cancel, kill, pause, resume, retry, clear)
        would get for `job` as last read: the permission rules, then the lifecycle's rules,
        which the store applies again when the request is made."""
        if action in JOB_ACTIONS:
            self.may(RIGHT_OF.get(action, action), job)
        if action in ("cancel", "kill"):
            force = action == "kill"
            decide_cancel(job.id, job.type, job.status, job.cancellable, force, self.user)
        elif action == "pause":
            decide_pause(job.id, job.status)
        elif action == "resume":
            decide_resume(job.id, job.status, admitted=True)
        elif action == "retry":
            decide_retry(job.id, job.status, job.failed + job.cancelled, self.user)
        elif action == "clear":
            # May the user clear it: the rules said so above.
            decide_clear(job.id, job.status, job.user, self.user, admin=True)
        else:
            _known(action, JOB_ACTIONS, "job")

    def plan_jobs(self, action: str, jobs: Iterable[Job]) -> Plan[Job]:
        """Which of `jobs` (as last read) `action` applies to, and which it skips."""
        return _plan(action, jobs, lambda job: self.check_job_action(action, job))

    @staticmethod
    def pause_or_resume(jobs: Iterable[Job]) -> str:
        """What pause/resume does to several jobs: resume them when every one is paused,
        else pause (those already paused are skipped)."""
        statuses = [job.status for job in jobs]
        return "resume" if statuses and all(s is JobStatus.PAUSED for s in statuses) else "pause"

    async def act_on_jobs(self, action: str, job_ids: Sequence[int]) -> list[Outcome]:
        """Make `action` on each job, in order; a job it cannot apply to (as the store
        finds it now, or gone) is an `Outcome` with its refusal, not an error."""
        self._check_writable(JOB_ACTIONS[_known(action, JOB_ACTIONS, "job")])
        if action == "clear":
            return await self._clear_each(job_ids)
        one: dict[str, Callable[[int], Any]] = {
            "cancel": self.cancel,
            "kill": lambda job_id: self.cancel(job_id, force=True),
            "pause": self.pause,
            "resume": self.resume,
            "retry": self.retry,
        }
        return [await _outcome(job_id, one[action]) for job_id in job_ids]

    async def _clear_each(self, job_ids: Sequence[int]) -> list[Outcome]:
        """Remove those of `job_ids` that may be removed, in one request; the others are
        refused by the rule, as the store has them now (a job gone: not found)."""
        from jobdash.core.service.answers import Outcome  # loaded by an action, not a read

        found = [await _outcome(job_id, self.job) for job_id in job_ids]
        plan = _plan("clear", found, self._clearable)
        ids = [int(o.key) for o in plan.apply]
        outcomes = {o.key: o for o in plan.apply}
        if ids and await self.clear_jobs(ids) < len(ids):
            for job_id in ids:  # one changed between the read and the request
                if (await _outcome(job_id, self.job)).refused is None:
                    changed = f"job {job_id} changed meanwhile; it was not cleared"
                    outcomes[job_id] = Outcome(job_id, refused=Refused(changed, "changed"))
        for o, refusal in plan.skipped:
            outcomes[o.key] = Outcome(o.key, refused=refusal)
        return [outcomes[job_id] for job_id in job_ids]

    def _clearable(self, o: Outcome) -> None:
        if o.refused is not None:
            raise o.refused
        self.check_job_action("clear", o.result)

    # ----------------------------------------------------------------- schedules

    @staticmethod
    def enable_or_disable(schedules: Iterable[Schedule]) -> str:
        """What enable/disable does to several schedules: enable them when every one is
        disabled, else disable (those already disabled are skipped)."""
        enabled = [s.enabled for s in schedules]
        return "enable" if enabled and not any(enabled) else "disable"

    def plan_schedules(self, action: str, schedules: Iterable[Schedule]) -> Plan[Schedule]:
        """Which of `schedules` (as last read) `action` (run, enable, disable) changes."""

        def check(s: Schedule) -> None:
            if action == "enable" and s.enabled:
                raise Refused(f"schedule {s.id} is already enabled", "already enabled")
            if action == "disable" and not s.enabled:
                raise Refused(f"schedule {s.id} is already disabled", "already disabled")

        return _plan(action, schedules, check)

    async def act_on_schedules(self, action: str, schedule_ids: Sequence[str]) -> list[Outcome]:
        """Run, enable or disable each schedule, in order (refused as a whole when no rule
        lets the user act on any schedule); one that is gone, or not theirs to act on, is
        an `Outcome` with its refusal."""
        what = SCHEDULE_ACTIONS[_known(action, SCHEDULE_ACTIONS, "schedule")]
        self._check_writable(what)
        if not self.rights.shared("schedule"):  # no schedule is theirs to act on
            self.rights.check("schedule", "schedules", what=what)
        one: dict[str, Callable[[str], Any]] = {
            "run": self.run_schedule_now,
            "enable": self.enable,
            "disable": self.disable,
        }
        return [await _outcome(s, one[action]) for s in schedule_ids]


def _known(action: str, known: dict[str, str], what: str) -> str:
    """`action`, if it is one of `known` (BadInput otherwise: a caller's mistake)."""
    if action not in known:
        raise BadInput(f"unknown {what} action {action!r} (known: {', '.join(known)})")
    return action


def _plan(action: str, items: Iterable[T], check: Callable[[T], None]) -> Plan[T]:
    from jobdash.core.service.answers import Plan  # loaded by an action, not a read

    plan: Plan[T] = Plan(action)
    for item in items:
        try:
            check(item)
        except Refused as refusal:
            plan.skipped.append((item, refusal))
        else:
            plan.apply.append(item)
    return plan


async def _outcome(key: Any, call: Callable[[Any], Any]) -> Outcome:
    """`call(key)`'s answer, or the refusal it met."""
    from jobdash.core.service.answers import Outcome  # loaded by an action, not a read

    try:
        return Outcome(key, await call(key))
    except Refused as refusal:
        return Outcome(key, refused=refusal)
