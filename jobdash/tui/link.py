"""How much the dashboard sends to its terminal: the normal way, or over a slow link.

Low-bandwidth mode (`--low-bandwidth`, or on its own when `SSH_CONNECTION` is set and the
config's `[jobdash] low_bandwidth_over_ssh` is not false) draws the same screens with
fewer bytes:

- a lower frame rate (`LOW_FPS`): changes that come within one frame go out together, in
  one frame, instead of one frame (cursor moves, style resets, synchronized-update
  brackets) each;
- no animations, whatever TEXTUAL_ANIMATIONS says (the dashboard has none by default
  either: a tab's underline jumps);
- mouse reporting off unless asked (`--mouse`): a terminal reporting any-event mouse
  tracking sends bytes up on every mouse move, and the app answers each with a frame
  when the pointer crosses a widget;
- of each frame, only the cells that changed (`LowBandwidthDriver`, `CellFilter`):
  Textual repaints a widget's whole line when part of it changes, a job row of ~300
  bytes for the few cells its progress moved. (In either mode the job tables repaint only
  rows that changed, at most 8 a second, and a picture equal to the one shown repaints
  nothing.)

Textual reads its frame rate (`TEXTUAL_FPS`) once, when it is imported: `apply` sets it
before the dashboard imports Textual. Plain Python, no Textual here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LOW_FPS", "Link", "choose"]

LOW_FPS = 5


@dataclass(frozen=True)
class Link:
    """The dashboard's settings for its link to the terminal."""

    low: bool = False
    why: str = ""  # what chose low-bandwidth mode: "--low-bandwidth", "SSH_CONNECTION"
    mouse: bool = True

    def apply(self, environ: os._Environ[str] | dict[str, str] = os.environ) -> None:
        """Set the frame rate Textual reads when it is imported (the user's own
        `TEXTUAL_FPS` wins)."""
        if self.low:
            environ.setdefault("TEXTUAL_FPS", str(LOW_FPS))


def choose(
    flag: bool, mouse: bool, over_ssh_allowed: bool, environ: Mapping[str, str] = os.environ
) -> Link:
    """Low bandwidth when asked (`flag`), or over SSH when the config allows it; never
    under another driver (`jobdash web`'s sessions speak to a browser, not over SSH)."""
    if environ.get("TEXTUAL_DRIVER"):
        return Link()
    why = ""
    if flag:
        why = "--low-bandwidth"
    elif over_ssh_allowed and environ.get("SSH_CONNECTION"):
        why = "SSH_CONNECTION"
    if not why:
        return Link()
    return Link(True, why, mouse=mouse)
