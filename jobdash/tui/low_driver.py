"""The terminal driver of low-bandwidth mode: the dashboard's (`LeanDriver`), writing only
the cells that change (`CellFilter`).

Its one change is `write`, the driver's public output method: every frame goes through the
filter first. A new terminal size makes every cell new (the terminal may have reflowed
them), so the size is looked at on each write (one ioctl).
"""

from __future__ import annotations

import os
import sys

from jobdash.tui.cell_filter import CellFilter
from jobdash.tui.lean_driver import LeanDriver

__all__ = ["LowBandwidthDriver"]


def _terminal_size() -> os.terminal_size | None:
    try:
        return os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (OSError, ValueError, AttributeError):
        return None


class LowBandwidthDriver(LeanDriver):
    """Textual's terminal driver, sending only the cells a frame changes."""

    _filter: CellFilter | None = None
    _size: os.terminal_size | None = None

    def write(self, data: str) -> None:
        if self._filter is None:
            self._filter = CellFilter()
        size = _terminal_size()
        if size != self._size:
            self._size = size
            self._filter.resize()
        data = self._filter(data)
        if data:
            super().write(data)
