"""What a submission becomes: the job record with its parameters, lock keys and report
recipients, and its tasks (one per item for commands, a job function for Python types).

Why apart from the service: this is the one place that turns a job type and its checked
parameters into what the store keeps; the service adds who may and the catalogue check.
"""

from __future__ import annotations

import glob as globmod
import subprocess
from collections.abc import Sequence

from jobdash.core.model import BadInput, JobType, Report, Trigger, report_recipients
from jobdash.core.store.engine_records import NewJob, NewTask
from jobdash.core.values import substitute

ITEMS_COMMAND_TIMEOUT = 60.0


def new_job(
    jt: JobType,
    values: dict[str, str],
    user: str,
    trigger: Trigger,
    digest: str,
    schedule_id: str | None = None,
    fire_time: float | None = None,
    report: Report | None = None,
    extra_locks: Sequence[str] = (),
    live_after: float | None = None,
) -> NewJob:
    """The job to create for type `jt` with the checked parameters `values` (`digest`: its
    type hash; `report`: recipients besides the type's, e.g. a schedule's; `extra_locks`:
    besides the type's, e.g. a schedule's overlap lock; `live_after`: see `NewJob`)."""
    tasks = plan_tasks(jt, values)
    lock_keys = [substitute(k, values, f"types.{jt.name}.locks") for k in jt.locks]
    if jt.exclusive:
        lock_keys.append("exclusive")
    if extra_locks:  # most jobs have none (a bulk submission's)
        lock_keys += [k for k in extra_locks if k not in lock_keys]
    target_param = jt.target_param
    return NewJob(
        type=jt.name,
        params=values,
        user=user,
        trigger=trigger,
        target=values.get(target_param, "") if target_param else "",
        parallel=jt.parallel,
        cancellable=jt.cancellable,
        on_lock=jt.on_lock,
        timeout=jt.timeout,
        retries=jt.retries,
        backoff=jt.backoff,
        lock_keys=lock_keys,
        tasks=tasks,
        schedule_id=schedule_id,
        fire_time=fire_time,
        report=report_recipients(jt.report, report),
        type_hash=digest,
        finalize=jt.finalize is not None,
        live_after=live_after,
    )


def plan_tasks(jt: JobType, values: dict[str, str]) -> list[NewTask]:
    """Break a job down: one task per item for commands, a job function for Python types.

    A task records its item only: the engine that claims it builds argv (or finds the job
    function) from its own catalogue (placeholders were checked with the config)."""
    if jt.function:
        return [NewTask("main", "main", "job", None)]
    items = expand_items(jt, values)
    if items is None:
        return [NewTask("main", jt.name, "command", None)]
    return [NewTask(item, item, "command", None, item) for item in items]


def expand_items(jt: JobType, values: dict[str, str]) -> list[str] | None:
    """The items of a job (None: the type has none): its list, the files its glob matches
    (sorted), or the lines its items command prints (within ITEMS_COMMAND_TIMEOUT)."""
    it = jt.items
    if it is None:
        return None
    where = f"types.{jt.name}.items"
    if it.values is not None:
        return [substitute(v, values, where) for v in it.values]
    if it.glob is not None:
        return sorted(globmod.glob(substitute(it.glob, values, where)))
    assert it.command is not None
    argv = [substitute(a, values, where) for a in it.command]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=ITEMS_COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BadInput(f"{where}: cannot run {argv[0]!r}: {e}") from e
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [""])[0]
        raise BadInput(f"{where}: {argv[0]} exited {done.returncode}: {first}")
    return [ln for ln in done.stdout.splitlines() if ln.strip()]
