"""The Store contract, its reading part: jobs, tasks and logs as the front ends read them,
the history behind the pictures, failures grouped by cause, and each user's read marks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jobdash.core.model import Counted, Job, LogLine, Run, Task
    from jobdash.core.store.records import JobFilter, RecordColumns, Shared
    from jobdash.core.store.side_records import FailureFilter, ReadMark
    from jobdash.core.views import FailedTask, FailureGroup, LogBlock, LogTexts


class ReadingStore(Protocol):
    """What a store answers to the front ends; part of `Store` (base.py), which every
    backend implements whole."""

    # ------------------------------------------------------------- reading

    async def get_job(self, job_id: int) -> Job:
        """One job (NotFound)."""

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        """The jobs `f` selects (None: all), in its order: the jobs `f.query.matches`
        (`f.after_id` and `f.limit`: one page of them, read by keyset; `f.offset`: a page
        far from either end)."""

    async def export_cells(self, f: JobFilter) -> list[tuple[Any, ...]]:
        """The jobs `list_jobs(f)` returns, each as its export cells (`EXPORT_CELLS`: a
        tuple of the columns a CSV export writes, `job_cells` of the job): an export of
        millions is written without a `Job` built for each."""

    async def record_cells(self, f: JobFilter) -> list[tuple[Any, ...]]:
        """The jobs `list_jobs(f)` returns, each as its record cells (`RECORD_CELLS` but
        the Service's `RECORD_EXTRAS`: `job_record_cells` of the job, those left off): a
        JSON export of millions is written without a `Job` built for each."""

    async def record_columns(self, f: JobFilter) -> RecordColumns:
        """`record_cells(f)` a column at a time, a value all the jobs hold given once (a
        backend may read such a column once: SQLite, where making a Python value of a cell
        is most of a JSON export's read)."""

    async def export_columns(self, f: JobFilter) -> RecordColumns:
        """`export_cells(f)` a column at a time (`EXPORT_CELLS`), as `record_columns` gives
        `record_cells`: a CSV export's read."""

    async def count_jobs(self, f: JobFilter, cap: int | None = None) -> int:
        """How many jobs `f` selects (its order, limit and offset aside); with `cap`, a count
        that stops past it (cap + 1 means "more than cap"), so that a count of a large set
        costs no more than `cap` rows."""

    async def index_text(self, batches: int | None = 1) -> bool:
        """Bring the text index of finished jobs up to date (`JobFilter.indexed`), in
        `batches` writes at most (None: as many as it takes); True when it holds every
        finished job (a backend whose index follows each write: always), False when it lags
        (batches left, or a store this process may only read)."""

    async def tasks(self, job_id: int) -> list[Task]:
        """A job's tasks, by seq."""

    async def logs(
        self, job_id: int, after: int = 0, task_seq: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        """A job's log lines after sequence number `after`, in order (of one task; the
        first `limit`)."""

    async def last_log_seq(self) -> int:
        """The `seq` of the store's newest log line (0: none). Every line at or below it is
        committed (a line's `seq` is taken in commit order), so reads of several jobs' lines
        cut there miss no line of one job that another's already shows."""

    async def log_texts(
        self, job_id: int, after: int, task_seq: int | None = None, limit: int | None = None
    ) -> LogTexts:
        """`logs`' lines, by column and only what printing them takes (`LogTexts`): the
        read of `jobdash logs JOB` into a pipe, a log of millions of lines."""

    async def log_block(
        self, job_id: int, after: int, task_seq: int | None = None, limit: int | None = None
    ) -> LogBlock:
        """`log_texts`' page as one text, joined by line breaks in the store (`LogBlock`):
        a page of a long log without a string a line (lines=0: none after `after`)."""

    async def log_tail(self, job_id: int, n: int, task_seq: int | None = None) -> list[LogLine]:
        """The last `n` log lines of a job (of one task), in order: one read of the index
        from the end, however long the log."""

    # ------------------------------------------------------------- history (the pictures)
    # Each an index range of the recent rows: the same cost beside a million finished jobs.

    async def type_runs(
        self, type: str, limit: int, user: str | None = None, shared: Shared = ()
    ) -> list[Run]:
        """The last `limit` finished jobs of `type` (of `user` only, and with it the jobs
        of others of `shared`'s types and targets), newest first."""

    async def jobs_ended(
        self, now: float, hours: int, user: str | None = None, shared: Shared = ()
    ) -> list[Counted]:
        """How many jobs (of `user` only, and `shared`'s, as for `type_runs`) ended with each status in each of the `hours`
        hours before `now` (bucket 0: the last hour); buckets with none are left out."""

    async def tasks_done(self, now: float, minutes: int) -> list[Counted]:
        """How many tasks each agent did (succeeded: what an agent's `done` counts) in each
        of the `minutes` minutes before `now` (bucket 0: the last minute); buckets with none
        are left out."""

    async def task_durations(self, job_ids: list[int]) -> list[float]:
        """How long the succeeded tasks of these jobs ran, in seconds (a sample of at most
        2,000: what history-aware timing takes the median of)."""

    async def quiet_since(self) -> dict[int, float]:
        """For each running job, when its quietest running task last showed a sign of life
        (its start, a log line, progress; to the second): stall detection."""

    async def running_signs(self) -> dict[int, tuple[float, float | None]]:
        """For each running job, `quiet_since`'s time and the earliest end of its running
        tasks' leases (past: no live agent holds that task; recovery runs it again)."""

    # ------------------------------------------------------------- failures by cause

    async def failure_groups(self, f: FailureFilter) -> list[FailureGroup]:
        """The failed task attempts `f` counts, grouped by the fingerprint of their cause
        (recorded with each failure, and with each attempt lost with its agent), the group
        seen last first: counts of attempts, tasks and jobs, first and last seen, attempts
        per job type and per span of `f`'s trend. One read of an index, whatever the size
        of the history."""

    async def failure_tasks(
        self, group: str, f: FailureFilter, limit: int | None = None
    ) -> list[FailedTask]:
        """The tasks with attempts `f` counts in group `group`, the latest failed first (the
        first `limit`), each with its latest such attempt's error and whether that attempt
        is the task's latest (`FailedTask.retriable`)."""

    async def attempt_log(self, job_id: int, task_id: int, attempt: int, n: int) -> list[LogLine]:
        """The last `n` log lines of one attempt of a task, in order: where it failed."""

    # ------------------------------------------------------------- read marks (unread logs)

    async def mark_read(self, user: str, job_id: int, seq: int) -> ReadMark | None:
        """`user` has read `job_id`'s log through line `seq` (and every line before it):
        move their mark there, never back, with the job's counts of lines to read up to that
        line, and stamp the job (the change feed carries both). The mark, or None when it
        did not move (the job is gone, or the mark was there already). A mark goes with its
        job (clear, retention)."""

    async def read_marks(self, user: str) -> list[ReadMark]:
        """Every mark of `user`."""
