"""What is wrong with a store, said in one line; and an engine's store failures, logged once.

A store may be unusable (not readable, not writable, damaged, another user's) or fail for a
while (a full disk). A command says so in one line and exits 2 (`StoreError` is a
`BadInput`). An engine keeps running and retries: each distinct failure is logged once, with
what it holds meanwhile, and once more when writes work again (`FaultLog`), instead of a
traceback every second. Every backend raises StoreError for its own failures: nothing of a
database driver's errors reaches the engine.
"""

from __future__ import annotations

import time

from jobdash.core.lazylog import lazy_logger
from jobdash.core.model import BadInput
from jobdash.present.words import plural

log = lazy_logger("jobdash.store")  # `logging` loaded at its first message


class StoreError(BadInput):
    """The store cannot be used as asked (exit status 2). `fault` is the cause alone
    ("database or disk is full"), for an engine's log."""

    def __init__(self, message: str, fault: str = "") -> None:
        super().__init__(message)
        self.fault = fault or message


def one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FaultLog:
    """An engine's store failures: each distinct one logged once while it lasts, with the
    log lines held meanwhile; then one line when writes work again."""

    def __init__(self) -> None:
        self.since: float | None = None  # when the current run of failures began
        self.said: set[str] = set()

    def failed(self, fault: str, held: int) -> None:
        if self.since is None:
            self.since = time.monotonic()
        if fault in self.said:
            return
        self.said.add(fault)
        held_text = f"; {plural(held, 'log line')} held" if held else ""
        log.warning("%s; retrying every 1 s%s", fault, held_text)

    def note(self, text: str, key: str | None = None) -> None:
        """Something said once per run of failures (the buffer reaching its bound); `key`
        names it when its text changes (a count in it)."""
        if (key or text) not in self.said:
            self.said.add(key or text)
            log.warning("%s", text)

    def worked(self) -> None:
        if self.since is None:
            return
        log.warning("writes work again after %.0f s", time.monotonic() - self.since)
        self.since = None
        self.said.clear()
