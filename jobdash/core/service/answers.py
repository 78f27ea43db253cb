"""What the Service's actions on many things answer: a plan (`Service.plan_jobs`,
`plan_schedules`), each one's outcome (`act_on_jobs`, `act_on_schedules`), a failure
group's retry (`retry_group`).

A module of its own, loaded by those actions and by the front ends that show their answers:
its dataclasses are built when one is made, not by every command that opens a store (each
costs the interpreter ~2–3.5 M instructions to build; `jobdash jobs` makes none)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from jobdash.core.model import Refused
from jobdash.present.words import plural

T = TypeVar("T")


@dataclass
class Plan(Generic[T]):
    """What `action` would do to the things asked about, as last read: those it applies
    to, and those it would skip with the refusal each would get (`Refused.why` says why
    in a few words)."""

    action: str
    apply: list[T] = field(default_factory=list)
    skipped: list[tuple[T, Refused]] = field(default_factory=list)

    @property
    def whys(self) -> list[str]:
        """Why each skipped one is skipped, in a few words."""
        return [refusal.why for _, refusal in self.skipped]


@dataclass(frozen=True)
class Outcome:
    """What an action did to one job or schedule (`key`: its id): the service's answer
    (`result`: the changed job or schedule, the job started, the tasks queued again), or
    the refusal it met."""

    key: int | str
    result: Any = None
    refused: Refused | None = None


def skipped(outcomes: Iterable[Outcome]) -> list[str]:
    """Why each refused one was left as it was, in a few words."""
    return [o.refused.why for o in outcomes if o.refused is not None]


@dataclass
class GroupRetry:
    """What retrying a group does (or did): its failed tasks to run again, in how many jobs,
    and how many of its tasks are left as they are (running again already, failed since of
    another cause, or in a job that has not finished)."""

    tasks: int
    jobs: int
    left: int

    def __str__(self) -> str:
        text = f"{plural(self.tasks, 'failed task')} of {plural(self.jobs, 'job')}"
        if self.left:
            text += f"; {plural(self.left, 'other task')} left as they are"
        return text
