"""A terminal driver for tests: Textual's own, recording each `write` (what Textual asked
to send, one frame or control sequence per write) as a JSON line in $JOBDASH_RECORD.
Chosen with TEXTUAL_DRIVER=tests.tui.recording_driver:RecordingDriver."""

from __future__ import annotations

import json
import os

from textual.drivers.linux_driver import LinuxDriver


class RecordingDriver(LinuxDriver):
    def write(self, data: str) -> None:
        with open(os.environ["JOBDASH_RECORD"], "a", encoding="utf-8") as f:
            f.write(json.dumps(data) + "\n")
        super().write(data)
