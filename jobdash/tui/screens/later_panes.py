"""The dashboard's parts that its first frame does not show: the Completed tab's header
(its chart of the last day; the tab's table is the first frame's, for its count), and the
Scheduled, Agents and Failures tabs' panes. `DashboardScreen.fill_pane` mounts them once
that frame is drawn (or when their tab is shown first); their modules, and the tables'
and charts' they import, load here, not before the first frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobdash.core.service import Service

if TYPE_CHECKING:
    from textual.widget import Widget

LATER_PANES = ("completed", "scheduled", "agents", "failures")  # the ids of their tabs' panes


def make_pane(pane: str, service: Service) -> Widget:
    """The widget of the tab `pane` (one of LATER_PANES): the Completed tab's header, put
    above its table, or the whole pane of the others."""
    if pane == "completed":
        from jobdash.tui.widgets.completed_header import CompletedHeader

        return CompletedHeader(service, id="completed-header")
    if pane == "scheduled":
        from jobdash.tui.widgets.schedules_pane import SchedulesPane

        return SchedulesPane(service)
    if pane == "agents":
        from jobdash.tui.widgets.agents_pane import AgentsPane

        return AgentsPane(service)
    from jobdash.tui.widgets.failures_pane import FailuresPane

    return FailuresPane(service, id="failures-pane")
