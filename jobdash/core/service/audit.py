"""The audit trail as one user may see it (`AuditTrail`, a part of the `Service`): every
event for an admin; otherwise a user's own (the events they asked for) and every event on
a job a role lets them see (`Rights.events_seen`). On PostgreSQL the database enforces the
same (row-level security); here it is the service's rule."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from jobdash.core.audit import parse_audit_query
from jobdash.core.service.access import Access

if TYPE_CHECKING:
    from jobdash.core.views import AuditEvent

AUDIT_LIMIT = 100  # events shown by default, the newest


class AuditTrail(Access):
    async def audit_trail(
        self, query: str = "", limit: int = AUDIT_LIMIT, target: str | None = None
    ) -> list[AuditEvent]:
        """The newest events first that `query` (the audit filter language, `core.audit`)
        passes, of `target` only when given ("job:12", "schedule:nightly")."""
        user, shared = self.rights.events_seen
        f = replace(parse_audit_query(query), user=user, shared=shared)
        return await self.store.audit_events(target, limit, f)
