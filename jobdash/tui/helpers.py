"""Small pieces shared by the details screen and the Scheduled / Agents panes.

They talk to the App through the contract it offers (`app.clock()`, `app.notify_refusal`,
`app.store_changed`) and fall back to plain behaviour when a test app lacks one of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import App

from jobdash.core.model import BadInput, Refused
from jobdash.present.recovery import quarantine_warning
from jobdash.present.text import sanitize
from jobdash.present.times import abbreviation, clock

if TYPE_CHECKING:
    from jobdash.core.service import Service


def clock_of(app: App[Any]) -> Callable[[], float]:
    """The app's injectable clock (frozen in snapshots), else wall time."""
    clock = getattr(app, "clock", None)
    return clock if callable(clock) else time.time


def format_time(ts: float | None, now: float) -> str:
    """ "14:03:22" today, "Jan 12 14:03" another day, "" for never: the viewer's zone, which
    the column's header names (`jobdash.present.times.header`), so a time carries its own
    only across a DST change."""
    return clock(ts, now, label=abbreviation(now))


def refuse(app: App[Any], exc: Exception) -> None:
    """Show a refusal as one clear line (the app's way if it has one)."""
    notify = getattr(app, "notify_refusal", None)
    if callable(notify):
        notify(exc)
    else:
        app.notify(sanitize(str(exc)), severity="error", markup=False)


ACTION_ERRORS = (Refused, BadInput)


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
