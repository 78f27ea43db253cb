"""The SQLite store's own reads: whether a claim would find something (the claims'
statements), and what the change feed polls: `PRAGMA data_version` (it moves when any other
connection, in any process, commits). The feed's loop and the other reads are shared
(`core.store.sql.reads`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from jobdash.core.store.records import JobFilter, RecordColumns, record_columns
from jobdash.core.store.sql import reads
from jobdash.core.store.sql.filters import job_select
from jobdash.core.store.sqlite.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.sqlite.db import Db
from jobdash.core.store.sqlite.record_columns import (
    EXPORT,
    RECORD,
    Cells,
    hint_of,
    hinted_columns,
    hinted_page,
)


class Reads(reads.Reads):
    db: Db
    ordinary_ready = ORDINARY_READY
    # The values the last page of each kind of cells read held in all its jobs: the next
    # page's are expected to (`record_columns.py`; any export's, a wrong hint costs a read).
    _hints: dict[tuple[str, ...], dict[str, Any]] | None = None

    def claimable_parts(self, types: Collection[str] | None, now: float) -> reads.Parts:
        jobs_of, type_args = types_sql(types)
        suspect = f"SELECT not_before FROM ({SUSPECT_READY % jobs_of})"
        return suspect, [now, *type_args], jobs_of, list(type_args)

    async def change_mark(self) -> int:
        """`PRAGMA data_version`: moves when any other connection, in any process, commits
        (SQLite's own count; cheaper than reading the revision)."""
        rows = await self.db.fetchall("PRAGMA data_version")
        return int(rows[0][0])

    async def record_columns(self, f: JobFilter) -> RecordColumns:
        return await self._columns(f, RECORD, self.record_cells)

    async def export_columns(self, f: JobFilter) -> RecordColumns:
        return await self._columns(f, EXPORT, self.export_cells)

    async def _columns(
        self,
        f: JobFilter,
        cells: Cells,
        whole: Callable[[JobFilter], Awaitable[list[tuple[Any, ...]]]],
    ) -> RecordColumns:
        """The columns whose values the last page's jobs all held are not read, only
        tested (`record_columns.py`); a page where a job differs is read whole."""
        if self._hints is None:
            self._hints = {}
        hint = self._hints.get(cells.names)
        page = None
        if hint:
            s = job_select(self.db.dialect, f, time.time() if f.now is None else f.now)
            columns, args, read = hinted_columns(hint, cells)
            sql = self.select_sql(columns, s.where, s.order, f.limit, f.offset, s.source)
            rows = list(await self.db.fetchall(sql, [*args, *s.args]))
            page = hinted_page(rows, hint, read, cells)
        if page is None:
            page = record_columns(await whole(f), cells.names)
        self._hints[cells.names] = hint_of(page)
        return page
