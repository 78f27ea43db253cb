"""The audit trail as one user may see it (`AuditTrail`, a part of the `Service`): every
event for an admin, a user's own otherwise (the events they asked for). On PostgreSQL the
database enforces the same (row-level security); here it is the service's rule."""

from __future__ import annotations

from dataclasses import replace

from jobdash.core.audit import parse_audit_query
from jobdash.core.service.access import Access
from jobdash.core.views import AuditEvent

AUDIT_LIMIT = 100  # events shown by default, the newest


class AuditTrail(Access):
    async def audit_trail(
        self, query: str = "", limit: int = AUDIT_LIMIT, target: str | None = None
    ) -> list[AuditEvent]:
        """The newest events first that `query` (the audit filter language, `core.audit`)
        passes, of `target` only when given ("job:12", "schedule:nightly")."""
        f = parse_audit_query(query)
        if not self.is_admin:
            f = replace(f, user=self.user)
        return await self.store.audit_events(target, limit, f)
