"""The base of the widgets' own messages: one that names the widget that sent it."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget

__all__ = ["ControlMessage"]


class ControlMessage(Message):
    """A message whose `control` is the widget that sent it, so `@on(..., "#id")`
    selectors match the sender's id."""

    def __init__(self, sender: Widget) -> None:
        self._control = sender
        super().__init__()

    @property
    def control(self) -> Widget:
        """The widget that sent the message."""
        return self._control
