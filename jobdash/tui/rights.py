"""Which keys the user's rights refuse, for the footer (`OffersWhatWorks` in `actions.py`):
each binding's action needs a right of `core.permissions` (`RIGHTS`, by binding id); a key
the user may not use on the job or schedule under the cursor (what the screen or widget
that binds it shows: `job_in_view`, `schedule_in_view`) is greyed, its tooltip saying why.
Pressed anyway, the action asks the service, whose refusal names the missing right."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual.binding import ActiveBinding

from jobdash.core.model import Job
from jobdash.core.service import Service

if TYPE_CHECKING:
    from jobdash.core.planning import Schedule  # a hint only: not the first frame's import


@runtime_checkable
class ShowsJob(Protocol):
    def job_in_view(self) -> Job | None: ...


@runtime_checkable
class ShowsSchedule(Protocol):
    def schedule_in_view(self) -> Schedule | None: ...


RIGHTS: dict[str, str] = {
    "job.new": "run",
    "job.rerun": "run",
    "job.cancel": "cancel",
    "job.kill": "cancel",
    "job.pause": "pause",
    "job.retry": "retry",
    "job.clear": "clear",
    "details.cancel": "cancel",
    "details.force_cancel": "cancel",
    "details.pause": "pause",
    "details.retry": "retry",
    "schedules.run_now": "schedule",
    "schedules.toggle": "schedule",
    "schedules.edit": "schedule",
    "schedules.report": "schedule",
    "agents.drain": "drain",
}
"""The right (`core.permissions`) each binding's action needs: a key the user may not use
on what is under the cursor is greyed, saying why."""


def refusals_for(
    service: Service, type_name: str, target: str, owner: str | None
) -> tuple[str | None, ...]:
    """What the rules refuse the user on a job or schedule of this type, target and owner,
    right by right: a screen refreshes its footer when the cursor moves to one whose
    refusals differ (not at every row: a footer redrawn costs bytes over SSH)."""
    rights = service.rights
    return tuple(rights.refusal(r, type_name, target, owner) for r in sorted(set(RIGHTS.values())))


def refusal_of(service: Service, node: object, binding_id: str) -> str | None:
    """Why the binding's action is not the user's to take on what `node` (the screen or
    widget that binds it) shows, in a few words; None when it is (or cannot be told)."""
    right = RIGHTS.get(binding_id)
    if right is None:
        return None
    rights = service.rights
    if binding_id == "job.new":  # any type at all
        if rights.allows("run") or any(r.grants("run") for r in rights.roles):
            return None
        return rights.refusal("run")
    if right == "drain":
        return rights.refusal("drain")
    if right == "schedule":
        s = node.schedule_in_view() if isinstance(node, ShowsSchedule) else None
        if s is None:
            return None
        return rights.refusal("schedule", s.type, service.target_of(s.type, s.params))
    job = node.job_in_view() if isinstance(node, ShowsJob) else None
    if job is None:
        return None
    return rights.refusal(right, job.type, job.target, job.user)


def with_rights(service: Service, b: ActiveBinding) -> ActiveBinding:
    """`b`, greyed with the reason as its tooltip when the user may not take its action."""
    if not b.enabled or b.binding.id is None:
        return b
    why = refusal_of(service, b.node, b.binding.id)
    return b if why is None else b._replace(enabled=False, tooltip=f"not allowed: {why}")
