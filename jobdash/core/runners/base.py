"""What every kind of task attempt offers the agent (`Run`, its `Result`), and the attempt
the engine refuses to run (`RefusedRun`).

Why one handle: the agent supervises commands and Python tasks alike -- `wait()` for the
outcome, `stop(force)` to cancel, `pause()`/`resume()` -- without knowing which runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobdash.core.model import TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim


@dataclass
class Result:
    """How an attempt ended: its status, exit code (commands) and one-line error."""

    status: TaskStatus
    exit_code: int | None = None
    error: str = ""


class Run:
    """A running task attempt."""

    claim: Claim
    stopping: bool = False
    fenced: bool = False  # the store no longer gives us this attempt: drop its result

    async def wait(self) -> Result:
        raise NotImplementedError

    async def stop(self, force: bool = False) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError


class RefusedRun(Run):
    """A claimed task that the engine will not run (see `Unrunnable`): it fails, saying why."""

    def __init__(self, claim: Claim, store: Store, reason: str) -> None:
        self.claim = claim
        self.store = store
        self.reason = reason

    async def wait(self) -> Result:
        # No line of its own: the attempt's failure line says why, once ("x: attempt 1 of 1
        # failed (not run: …); no retries left", `lifecycle.after_failure`).
        return Result(TaskStatus.FAILED, None, f"not run: {self.reason}")

    async def stop(self, force: bool = False) -> None:
        self.stopping = True

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass
