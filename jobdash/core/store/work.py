"""The Store contract, its work part: buffered writes (log lines, progress), jobs and their
tasks, artifacts, and the claims that hand tasks to agents (fenced on owner and attempt)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from jobdash.core.model import Job, JobStatus
    from jobdash.core.store.engine_records import (
        Claim,
        Claimant,
        NewArtifact,
        NewJob,
        NewTask,
        Outcome,
    )
    from jobdash.core.views import Artifact, StoreSize


class WorkStore(Protocol):
    """What a store does with the work itself; part of `Store` (base.py), which every
    backend implements whole."""

    # ------------------------------------------------------------- buffered writes
    # Held in memory and written together, soon (a fraction of a second) and in order.

    async def flush(self) -> None:
        """Write whatever is buffered now."""

    async def append_log(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        """Buffer a log line (of task attempt `attempt`, if a task's); waits while the
        buffer is full (`backlogged`). A job's lines keep the order they were appended in,
        and a line of a job's output also becomes its info line."""

    def append_log_nowait(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        """`append_log` without waiting: callers check `backlogged` themselves."""

    def backlogged(self) -> bool:
        """True while the lines held exceed the store's memory bound: writers should wait
        for `drained` (nothing is ever dropped)."""

    async def drained(self) -> None:
        """Return once the buffer is under its bound again (at once when it is)."""

    def report_progress(self, task_id: int, fraction: float) -> None:
        """A running task's progress, 0 to 1; its job's progress follows."""

    def note_pgid(self, task_id: int, pgid: int) -> None:
        """The process group of a running command attempt (see `expire_dead_agents`)."""

    def add_metric(self, job_id: int, name: str, value: float) -> None:
        """Metrics are counters: values reported by the tasks of a job add up."""

    def add_warning(self, job_id: int) -> None:
        """One more warning for the job (it then ends `warning` instead of `succeeded`)."""

    def outcomes_held(self) -> int:
        """How many outcomes (`complete`) wait to be written or are being written: the
        write that records them also claims for the slots they freed (`refill`)."""

    async def complete(self, outcome: Outcome) -> bool:
        """Record how an attempt ended. **Fenced**: only while (task, attempt, owner) still
        holds it running; otherwise nothing changes and the answer is False. The task moves
        as the job's rules say (a failure with retries left is pending again after its
        backoff), and a job with nothing left pending or running is settled, atomically (or,
        when its type has a finalize step, becomes `finalizing` with the step added as its
        last task: `lifecycle.after_last_task`)."""

    def complete_nowait(
        self, outcome: Outcome, then: Callable[[bool | BaseException], None]
    ) -> None:
        """`complete` without waiting for it: `then` is called with its answer, or with the
        exception of a write that failed (nothing of it written: send it again), once the
        batch that holds it is written. The engine's way: a task's own asyncio task ends
        when its outcome is sent, not woken again for the answer."""

    # ------------------------------------------------------------- jobs

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        """Create a queued job with its tasks, lock keys and report; **durable** once this
        returns. A second job for the same (schedule, fire time) is Refused whoever submits
        it; with on_lock = "refuse", so is a job whose lock another job holds."""

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        """Create many queued jobs at once (bulk submission), like `create_job` each, in one
        transaction: **all or none** (the first refusal is raised and nothing is created).
        Returns their ids, in order; the change feed sees them in one revision."""

    async def add_tasks(self, job_id: int, tasks: Sequence[NewTask]) -> int:
        """Add tasks to a running job (keys already there add nothing); returns how many
        were added. A job being cancelled gets them cancelled at once."""

    async def admit(self, live_after: float | None = None) -> list[int]:
        """Move queued and waiting jobs to running, oldest first, each taking all its lock
        keys at once. **Lock and exclusive admission**: a key (and "exclusive") has one
        holder at a time across every process sharing the store; a job whose key is held
        waits, the holder named. With `live_after`, a job whose type and hash no agent live
        since then runs waits too, with the reason. Returns the jobs that changed."""

    async def cancel_job(self, job_id: int, user: str, force: bool = False) -> Job:
        """Cancel as the job rules allow (Refused, one line, when they do not); audited."""

    async def pause_job(self, job_id: int, user: str) -> Job:
        """Pause as the job rules allow; its clock stops. Audited."""

    async def resume_job(self, job_id: int, user: str) -> Job:
        """Resume a paused job (running if it was admitted, else queued). Audited."""

    async def retry_job(self, job_id: int, user: str, task_ids: Sequence[int] | None = None) -> int:
        """Queue a finished job's failed and cancelled tasks again (of them, only those of
        `task_ids`, when given: a failure group's); returns how many."""

    async def clear(self, user: str | None, actor: str) -> int:
        """Remove finished jobs (of `user`, or everyone's when None) with their tasks, logs
        and artifacts (their kept files of this host's folder too, once committed), in small
        batches; the change feed reports them removed."""

    async def clear_ids(self, job_ids: Sequence[int], user: str | None, actor: str) -> int:
        """Remove the finished jobs among `job_ids` (of `user` only, unless None)."""

    async def prune(self, older_than: float) -> int:
        """**Retention**: remove the jobs that finished before `older_than`, as `clear`."""

    # ------------------------------------------------------------- artifacts
    # Files a job produced, kept with it (see core.artifacts): small ones in the store, big
    # ones as files of `artifact_folder`, named by jobdash, recorded by name and checksum.

    artifact_folder: Path  # this host's folder of the store's big artifacts (0700)
    artifact_host: str | None  # the host recorded with a kept file (None: beside the store)

    async def add_artifact(self, new: NewArtifact) -> Artifact:
        """Record an artifact of a job, **replacing** one of the same name in that job (its
        kept file, when of this folder, is removed once committed); the job shows changed in
        the change feed. NotFound when the job is gone."""

    async def artifacts(self, job_id: int) -> list[Artifact]:
        """A job's artifacts, by name (without their bytes)."""

    async def artifact(self, job_id: int, name: str) -> tuple[Artifact, bytes | None]:
        """One artifact and its bytes when the store holds them (None: it is a kept file).
        NotFound when the job has no artifact of that name."""

    async def store_size(self) -> StoreSize:
        """What the store takes: the database, and the artifacts it holds and keeps."""

    async def known_files(self, names: Sequence[str]) -> set[str]:
        """Those of these kept files' names that a row of the store still names."""

    # ------------------------------------------------------------- claims

    async def claim(self, who: Claimant | Callable[[], Claimant | None]) -> list[Claim]:
        """Claim up to `who.free` ready tasks of running (or finalizing) jobs of the type hashes in
        `who.types` (None: any), within each job's `parallel`, shared out between jobs.
        **One holder per attempt**: each claim starts a new attempt that this owner alone
        holds, until its lease (`who.lease` seconds, renewed by `heartbeat`) runs out. A
        suspect task (lost with an agent before) is claimed alone, by an idle claimant.
        `who` may be a function, asked inside the transaction (None: nothing to claim), so
        that an agent's free slots counted there cannot be taken meanwhile by a refill."""

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        """Would `claim` find something? One cheap read, asked before claiming."""

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        """Give back claims without counting an attempt (graceful shutdown)."""

    async def recover_lost(self, quarantine_after: int | None = None) -> int:
        """**Recovery of a dead agent's tasks**: every running task of an owner with a lease
        run out, as one death, with the rules' verdicts (run again alone, fail, quarantine
        after `quarantine_after` deaths charged; None: the rules' own). Returns how many tasks were recovered."""

    async def has_lost_tasks(self) -> bool:
        """Is a running task's lease run out?"""

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        """Agents of `host` whose pid is not `alive`: end their leases now and show them
        offline. Returns their names, owners and their running attempts' process groups."""

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        """Status and force flag of some jobs: agents poll this for cancel and pause."""

    async def has_jobs_to_admit(self) -> bool:
        """Is a job queued or waiting?"""
