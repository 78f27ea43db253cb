"""The audit section of a details screen: who did what to this job or schedule, when and
from which host, the newest first, as `jobdash audit job:12` lists it (an admin sees every
event, anyone else their own)."""

from __future__ import annotations

from typing import Any

from textual import work

from jobdash.core.service import Service
from jobdash.core.views import AuditEvent
from jobdash.present.audit import audit_cells
from jobdash.present.text import sanitize
from jobdash.tui.helpers import clock_of
from jobdash.tui.widgets.line_table import LineTable, Row, TableColumn

AUDIT_SHOWN = 50  # the newest events of a target
COLUMNS = (
    TableColumn("when", 16),  # today's "14:03:22", another day's "2026-11-30 14:03"
    TableColumn("user", 18),  # "alice (by root)": root acted for alice
    TableColumn("action", 8),
    TableColumn("detail", 0, min_width=12),
    TableColumn("host", 14),
)


class AuditTable(LineTable):
    """The events of `target` ("job:12", "schedule:nightly"); `reload` reads them again."""

    DEFAULT_CSS = """
    AuditTable { height: auto; max-height: 5; }
    """

    def __init__(self, service: Service, target: str, **kwargs: Any) -> None:
        super().__init__(
            COLUMNS,
            empty_text="No audit events",
            allow_no_cursor=True,
            drops=("host",),
            **kwargs,
        )
        self.service = service
        self.target = target

    def show(self, events: list[AuditEvent], now: float) -> None:
        self.set_rows(
            [
                Row(e.id, tuple(sanitize(c) for c in audit_cells(e, now, target=False)))
                for e in events
            ]
        )

    @work(group="audit", exclusive=True)
    async def reload(self) -> None:
        events = await self.service.audit_trail(target=self.target, limit=AUDIT_SHOWN)
        self.show(events, clock_of(self.app)())
