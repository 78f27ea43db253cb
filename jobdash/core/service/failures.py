"""Failures grouped by cause, as one user may see them (`Failures`, a part of the `Service`):
the groups, a group's tasks and a sample attempt's log, and the retry of a group.

A group is the failed attempts of one cause (`core.fingerprint`), named by its
fingerprint: 12 hex digits, as `jobdash failures` and the dashboard show it. What a user
sees is what `jobs` shows them (`Rights.seen`: their own jobs, those a role's `view` reaches,
or every job for an admin), narrowed by the
filter language and a time. Retrying a group runs again, in each finished job, exactly the
tasks whose latest failure is of that cause, through the job's retry (one audit row each,
and one for the group).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from jobdash.core.model import BadInput, LogLine, NotFound, Refused
from jobdash.core.patterns import compiled
from jobdash.core.query import Query, parse_query
from jobdash.core.service.access import Access
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.service.answers import GroupRetry
    from jobdash.core.store.side_records import FailureFilter
    from jobdash.core.views import FailedTask, FailureGroup

GROUP_ID = r"[0-9a-f]{12}"  # compiled where a group id is typed
SAMPLE_LINES = 30  # lines of a sample attempt's log: the end of it, where it failed


def check_group_id(text: str) -> str:
    """A group id as typed (BadInput, one line, when it is not one)."""
    group = text.strip().lower()
    if not compiled(GROUP_ID).fullmatch(group):
        shown = text if len(text) <= 40 else text[:36] + "…"
        raise BadInput(
            f"not a failure group id: {shown!r} (12 hex digits, as `jobdash failures` shows)"
        )
    return group


class Failures(Access):
    """The failure groups this user may see, and their retry."""

    def failure_filter(
        self,
        query: str | Query = "",
        since: float | None = None,
        buckets: int = 12,
        now: float | None = None,
    ) -> FailureFilter:
        """What the user's groups count: the failed attempts of the jobs they see (their
        own, those a role's `view` reaches, everyone's for an admin), of the jobs `query` selects, since `since`; `now` (default: the time) ends
        the trend and anchors `since:` (a dashboard passes its clock)."""
        q = parse_query(query) if isinstance(query, str) else query
        user, shared = self.rights.seen
        now = time.time() if now is None else now
        from jobdash.core.store.side_records import FailureFilter  # loaded where one is made

        return FailureFilter(q, user, since, now, buckets, shared)

    async def failures(
        self,
        query: str | Query = "",
        since: float | None = None,
        buckets: int = 12,
        now: float | None = None,
    ) -> list[FailureGroup]:
        """The failure groups, the one seen last first."""
        return await self.store.failure_groups(self.failure_filter(query, since, buckets, now))

    async def failure_tasks(
        self,
        group: str,
        query: str | Query = "",
        since: float | None = None,
        limit: int | None = None,
        now: float | None = None,
    ) -> list[FailedTask]:
        """A group's tasks, the latest failed first (NotFound: no such group here)."""
        group = check_group_id(group)
        f = self.failure_filter(query, since, now=now)
        tasks = await self.store.failure_tasks(group, f, limit)
        if not tasks:
            mine = "" if self.rights.sees_all else " among your jobs"
            raise NotFound(f"no failure group {group}{mine}")
        return tasks

    async def failure_sample(self, task: FailedTask, n: int = SAMPLE_LINES) -> list[LogLine]:
        """The end of a failed attempt's log (where it failed)."""
        await self.job(task.job_id)
        return await self.store.attempt_log(task.job_id, task.task_id, task.last_attempt, n)

    async def retry_group(
        self,
        group: str,
        query: str | Query = "",
        since: float | None = None,
        now: float | None = None,
        plan_only: bool = False,
    ) -> GroupRetry:
        """Retry, in each finished job, exactly the group's tasks whose latest failure is of
        its cause; Refused when none is. `plan_only`: what it would run again, said before
        it is asked (nothing changes)."""
        tasks = await self.failure_tasks(group, query, since, now=now)
        retriable = await self._retriable({t.job_id for t in tasks})
        by_job, plan = _plan([t for t in tasks if t.job_id in retriable])
        if plan_only:
            return plan
        self._check_writable("retry")
        group = check_group_id(group)
        if not plan.tasks:
            raise Refused(
                f"failure group {group} has no failed task to retry "
                f"({plural(plan.left, 'task')} ran again since, failed otherwise, or belong "
                "to jobs still running)"
            )
        from jobdash.core.service.answers import GroupRetry

        done = GroupRetry(0, 0, plan.left)
        for job_id, task_ids in by_job.items():
            try:
                done.tasks += await self.store.retry_job(job_id, self.user, task_ids)
                done.jobs += 1
            except Refused:  # it changed meanwhile (retried, removed): left as it is
                done.left += len(task_ids)
        await self.store.audit(self.user, "retry", f"failures:{group}", str(done))
        return done

    async def _retriable(self, job_ids: set[int]) -> set[int]:
        """Those of `job_ids` the user may retry (the rules: their own, or a role's right on
        the job's type and target); a group may hold jobs a role lets them see only."""
        if self.rights.admin or not self.rights.shared("view"):
            return job_ids  # their own jobs, or every one as an admin
        allowed = set()
        for job_id in job_ids:
            try:
                job = await self.store.get_job(job_id)
            except NotFound:  # removed meanwhile
                continue
            if self.rights.allows("retry", job.type, job.target, job.user):
                allowed.add(job_id)
        return allowed


def _plan(tasks: list[FailedTask]) -> tuple[dict[int, list[int]], GroupRetry]:
    from jobdash.core.service.answers import GroupRetry  # loaded by a retry, not a read

    by_job: dict[int, list[int]] = defaultdict(list)
    for t in tasks:
        if t.retriable:
            by_job[t.job_id].append(t.task_id)
    n = sum(len(ids) for ids in by_job.values())
    return dict(by_job), GroupRetry(n, len(by_job), len(tasks) - n)
