"""A JSON export's records through the Service: what `export_records` reads as cells, or
`export_columns` a column at a time (and adds to them: a user's unread lines, an active
job's timing), is what the jobs `jobs` returns hold, so that `jobdash export --format json`
writes what it wrote from `Job`s; and a CSV export's cells alike (`export_cell_columns`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.identity import real_user
from jobdash.core.model import JobStatus, Unread, job_record
from jobdash.core.service import Export, Service
from jobdash.core.store.records import job_cells, job_record_cells
from tests.conftest import wait_finished, wait_for

Open = Callable[..., Awaitable[Service]]

CONFIG = """
[types.noisy]
items = ["a", "b"]
command = ["sh", "-c", "echo {item} one; echo 'warning: {item} two' >&2; echo {item} three >&2"]

[types.nap]
command = ["sleep", "60"]
"""


async def test_export_records_are_the_jobs_records(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """Finished jobs with unread lines (one partly read), and a paused one (active: its
    type's timing): the record cells, page by page, and their JSON text."""
    svc = await services(write_config(CONFIG), user=real_user())
    unread = await svc.submit("noisy")
    await wait_finished(svc, unread.id)
    read = await svc.submit("noisy")
    await wait_finished(svc, read.id)
    await svc.mark_read(read.id, (await svc.logs(read.id))[2].seq)
    paused = await svc.submit("nap")
    await wait_for(svc, paused.id, lambda j: j.status is JobStatus.RUNNING)
    await svc.pause(paused.id)
    await wait_for(svc, paused.id, lambda j: j.status is JobStatus.PAUSED)

    jobs = await svc.jobs("")
    assert [j.id for j in jobs] == [paused.id, read.id, unread.id]
    assert jobs[2].unread == Unread(6, 2, 2) and jobs[1].unread is not None
    assert jobs[1].unread != jobs[2].unread and jobs[0].timing is not None
    assert await svc.export_records("") == [job_record_cells(j) for j in jobs]
    page = await svc.export_records("", limit=2, after_id=paused.id)
    assert page == [job_record_cells(j) for j in jobs[1:]]
    assert await svc.export_records("status:stalled") == []  # a flag: told from the jobs

    export = Export("json")
    text = export.begin() + export.records(await svc.export_records("")) + export.end()
    assert text == json.dumps([job_record(j) for j in jobs], indent=2, default=str)

    # A column at a time (what `jobdash export` reads, JSON and CSV): the same cells, page
    # by page (the store expecting the previous page's values), and the same text.
    reads = ((svc.export_columns, job_record_cells), (svc.export_cell_columns, job_cells))
    for read, cells_of in reads:
        for size in (1, 2, 3, 1):
            after, rows = None, []
            while page := await read("", limit=size, after_id=after):
                rows += [page[i] for i in range(len(page))]
                after = page[-1][0]
            assert rows == [cells_of(j) for j in jobs]
        assert len(await read("status:stalled")) == 0  # a flag: told from the jobs
    export = Export("json")
    columns = export.records(await svc.export_columns(""))
    assert export.begin() + columns + export.end() == text
    csv = Export("csv")  # (the paused job's duration: to its pause, whenever it is read)
    assert csv.cells(await svc.export_cell_columns("")) == csv.rows(jobs)
    await svc.cancel(paused.id, force=True)
