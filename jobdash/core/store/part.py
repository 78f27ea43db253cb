"""The base of the SQLite store's mixins (schedules, agents): what they use of `SqliteStore`,
declared once for the type checker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import aiosqlite

from jobdash.core.store.sqlite_faults import Reads

T = TypeVar("T")


class StorePart:
    """A part of `SqliteStore` kept in its own module; it uses the store's writer, reader
    and audit trail."""

    if TYPE_CHECKING:

        async def write(
            self, fn: Callable[[aiosqlite.Connection, int, float], Awaitable[T]]
        ) -> T: ...

        @property
        def _reader(self) -> Reads: ...

        async def _audit(
            self,
            w: aiosqlite.Connection,
            now: float,
            user: str,
            action: str,
            target: str,
            detail: str = "",
        ) -> None: ...
