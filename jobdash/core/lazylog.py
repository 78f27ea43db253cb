"""Loggers made at their first message: `logging` (with `threading` and `traceback`) costs
~20 M instructions to import, which a command that logs nothing (`jobdash jobs`) need not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import logging


class _LazyLogger:
    """`logging.getLogger(name)`, asked for at each use (rare: failures, warnings)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        import logging

        return getattr(logging.getLogger(self.name), attr)


def lazy_logger(name: str) -> logging.Logger:
    """The logger `name`, imported and looked up when a message is logged."""
    return cast("logging.Logger", _LazyLogger(name))
