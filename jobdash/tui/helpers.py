"""Small pieces shared by the details screen and the Scheduled / Agents panes.

They talk to the App through the contract it offers (`app.clock()`, `app.notify_refusal`,
`app.store_changed`) and fall back to plain behaviour when a test app lacks one of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import ActiveBinding
from textual.screen import Screen

from jobdash.core.model import BadInput, Refused
from jobdash.present.recovery import quarantine_warning
from jobdash.present.text import sanitize

if TYPE_CHECKING:
    from jobdash.core.service import Service


def clock_of(app: App[Any]) -> Callable[[], float]:
    """The app's injectable clock (frozen in snapshots), else wall time."""
    clock = getattr(app, "clock", None)
    return clock if callable(clock) else time.time


def refuse(app: App[Any], exc: Exception) -> None:
    """Show a refusal as one clear line (the app's way if it has one)."""
    notify = getattr(app, "notify_refusal", None)
    if callable(notify):
        notify(exc)
    else:
        app.notify(sanitize(str(exc)), severity="error", markup=False)


ACTION_ERRORS = (Refused, BadInput)

# What a read-only dashboard (`--read-only`) refuses, by binding id, in the service's words.
READ_ONLY_REFUSED: dict[str, str] = {
    "job.new": "start a job",
    "job.rerun": "start a job",
    "job.cancel": "cancel",
    "job.kill": "cancel",
    "job.pause": "pause",
    "job.retry": "retry",
    "job.clear": "clear history",
    "details.cancel": "cancel",
    "details.force_cancel": "cancel",
    "details.pause": "pause",
    "details.retry": "retry",
    "schedules.run_now": "start a job",
    "schedules.toggle": "enable or disable a schedule",
    "schedules.edit": "change a schedule",
    "agents.drain": "drain an agent",
}


def refused_read_only(app: App[Any], binding_id: str, what: str | None = None) -> bool:
    """True, after a toast saying so, when the dashboard is read-only and the action of
    `binding_id` (doing `what`, if not its usual) would change something: refused before
    any dialog or form opens."""
    if not getattr(app, "read_only", False):
        return False
    refuse(app, Refused(f"read-only: cannot {what or READ_ONLY_REFUSED[binding_id]}"))
    return True


class OffersWhatWorks(Screen[None]):
    """A screen whose footer, help and command palette (all read `active_bindings`) leave
    out the actions that a read-only dashboard refuses. Their keys still answer, with the
    refusal (`refused_read_only`), so a key pressed from habit is not met with silence."""

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        bindings = super().active_bindings
        if not getattr(self.app, "read_only", False):
            return bindings
        return {k: b for k, b in bindings.items() if b.binding.id not in READ_ONLY_REFUSED}


def confirm(app: App[Any], question: str, on_yes: Callable[[], Any], detail: str = "") -> None:
    """Ask `question` with the app's ConfirmScreen (focus on No); call `on_yes` on yes."""
    from jobdash.tui.dialogs.confirm import ConfirmScreen

    def done(answer: bool | None) -> None:
        if answer:
            on_yes()

    app.push_screen(ConfirmScreen(question, detail), done)


async def retry_now(
    app: App[Any], service: Service, job_id: int, label: str, on_yes: Callable[[], Any]
) -> bool:
    """True when the job's failed tasks may be retried at once. When some were quarantined
    (they killed their agent), ask first, saying what retrying does (`on_yes` retries), and
    return False."""
    quarantined = await service.quarantined_tasks(job_id)
    if not quarantined:
        return True
    n = len(quarantined)
    question = f"Retry {label}? {n} of its tasks {'was' if n == 1 else 'were'} quarantined"
    detail = "\n".join(sanitize(quarantine_warning(t)) for t in quarantined[:5])
    if n > 5:
        detail += f"\n… and {n - 5} more"
    confirm(app, question, on_yes, detail)
    return False


def subscribe_changes(node: Any, callback: Callable[[Any], None]) -> bool:
    """Subscribe `node` to `app.store_changed`; False when the app has no such signal."""
    signal = getattr(node.app, "store_changed", None)
    if signal is None:
        return False
    signal.subscribe(node, callback)
    return True
