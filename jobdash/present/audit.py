"""How an audit event looks, to `jobdash audit` and to the details screens' audit
sections: its columns, its cells and its JSON."""

from __future__ import annotations

from typing import Any

from jobdash.core.views import AuditEvent
from jobdash.present.times import in_column, iso

AUDIT_COLUMNS = ("when", "user", "action", "target", "detail", "host")


def who(e: AuditEvent) -> str:
    """Who asked, and the OS user who acted for them when that was another (root acting
    as alice: "alice (by root)")."""
    return e.user if not e.actor or e.actor == e.user else f"{e.user} (by {e.actor})"


def audit_cells(e: AuditEvent, now: float, target: bool = True) -> tuple[str, ...]:
    """The cells of AUDIT_COLUMNS (without the target's, where all are of one target)."""
    cells = (in_column(e.ts, now), who(e), e.action, e.target, e.detail, e.host)
    return cells if target else cells[:3] + cells[4:]


def audit_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "time": iso(e.ts),
        "ts": e.ts,
        "user": e.user,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "detail": e.detail,
        "host": e.host,
    }
