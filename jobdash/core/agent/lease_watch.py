"""When an agent must stop its work because its claims are about to run out unrenewed.

An agent renews its claims with each heartbeat; a claim not renewed for a lease runs out,
and another agent may then run the task again. An agent that cannot reach its store (a
network cut, a write lock held by another process for that long) cannot know whether that
happened, so it stops the work of its claims just before they run out (a second before, by
default: two looks of this watch): then two attempts of one task never run at once. The work's claims are given back when the store
answers again (or, when they were taken over meanwhile, their late results are sent and
rejected, as a frozen agent's are).

A frozen agent (SIGSTOP, a paused VM, a starved process) is the other case: when it wakes,
its heartbeat goes first, since its store usually answers at once and tells which claims
were taken over (those are stopped as before); the watch acts only if that heartbeat does
not come back within what would have been left of a lease.
"""

from __future__ import annotations

import time


class LeaseWatch:
    """The heartbeat's timings, as the agent's lease loop reads them (monotonic seconds)."""

    def __init__(self, lease: float, heartbeat: float) -> None:
        now = time.monotonic()
        self.lease = lease
        self.heartbeat = heartbeat
        self.every = min(heartbeat, 1.0) / 2  # between looks
        self.renewed = now  # when the last heartbeat that got through was sent
        self.beat_ended = now  # when the last heartbeat ended, through or not
        self.frozen_at: float | None = None
        self.looked = now

    def ended(self, sent: float, through: bool) -> None:
        """A heartbeat sent at `sent` ended; `through`: the store renewed our claims."""
        if through:
            self.renewed = max(self.renewed, sent)
        self.beat_ended = time.monotonic()

    def silent(self) -> float | None:
        """Seconds since the last renewal when the work must stop now, else None."""
        now = time.monotonic()
        if now - self.looked > self.every + self.heartbeat:
            self.frozen_at = now  # we were not running: the heartbeat goes first
        self.looked = now
        silent = now - self.renewed
        if silent < self.lease - 2 * self.every:  # the next look might come too late
            return None
        if (
            self.frozen_at is not None
            and self.beat_ended < self.frozen_at
            and now - self.frozen_at < self.lease - 2 * self.every
        ):
            return None
        return silent
