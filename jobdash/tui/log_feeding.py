"""A log pane's lines from the store, for the screens that show one: the job details (one
job, or one of its tasks) and the log of several jobs (`L`). Both read through the
service's `LogFeed` (what `jobdash logs` reads through too): each job's last lines, then
every line written since, by sequence number; and both save the log from the store the same
way, a line each with its time, job or task and stream (`saved_line`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import App

from jobdash.core.model import BadInput, LogLine
from jobdash.core.service import LogFeed, create_new
from jobdash.present.logs import JobLabels, TaskLabels, saved_line
from jobdash.present.words import plural_word
from jobdash.tui.widgets.log_view import LogView

__all__ = ["LOG_BATCH", "SavesLog", "follow", "save"]

LOG_TAIL = 5_000  # lines of each job loaded when a pane opens (older ones stay in the store)
LOG_BATCH = 5_000  # lines of each job per read
LOG_POLL = 0.15  # seconds between reads while a job shown is active
LOG_IDLE_POLL = 1.0  # ... once they all finished (late lines, a retry)
SAVE_BATCH = 10_000  # lines of each job per read, saving


async def follow(
    feed: LogFeed,
    show: Callable[[list[LogLine]], Awaitable[None]],
    active: Callable[[], bool],
    gone: Callable[[], None],
) -> None:
    """Show the last `LOG_TAIL` lines of each job, then every line written since, read
    every `LOG_POLL` seconds while `active()` (else `LOG_IDLE_POLL`), a batch (one
    `LogView.append`) at a time: what keeps up with 20,000 lines/s. `gone` is called once
    no job is left in the store. Runs until cancelled (the screen's worker)."""
    lines = await feed.tail(LOG_TAIL)
    if lines:
        await show(lines)
    while not feed.done:
        await asyncio.sleep(LOG_POLL if active() else LOG_IDLE_POLL)
        while True:  # a batch per read; at once again only while a job had a full page
            if lines := await feed.read():
                await show(lines)
            if not feed.more:
                break
            await asyncio.sleep(0)
    gone()


async def save(app: App[Any], feed: LogFeed, labels: TaskLabels | JobLabels, stem: str) -> None:
    """Write the log `feed` reads, whole, from the store to a new ./STEM.log (or -1, -2 …
    when that name is taken: `create_new`), each line by `saved_line`; a toast says where,
    or why not."""
    count = 0
    try:
        with create_new(stem, ".log") as (path, out):
            while batch := await feed.read():
                out.writelines(saved_line(line, labels) for line in batch)
                count += len(batch)
    except BadInput as exc:  # the folder is gone, the disk is full …: said, no crash
        app.notify(str(exc), title="Log not saved", severity="error", markup=False)
        return
    app.notify(
        f"Saved {count:,} {plural_word(count, 'line')} to {path}", title="Log saved", markup=False
    )


class SavesLog:
    """Mixed into a screen with a log pane: the pane's `s` (`LogView.SaveRequested`) saves
    the screen's log, as `save_log` (a worker) does it."""

    def save_log(self) -> object:
        raise NotImplementedError

    def on_log_view_save_requested(self, event: LogView.SaveRequested) -> None:
        event.stop()
        self.save_log()
