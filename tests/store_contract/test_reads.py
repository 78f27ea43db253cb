"""Reads and agents: the job filter answers as `query.matches` does, claims follow the live
catalogue and a claimant's own counts, heart-beats carry leases and the drain flag, and
what a store buffers is written when it closes."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from jobdash.core.agent_info import AgentInfo
from jobdash.core.model import Job, JobStatus, NotFound, Refused, Trigger
from jobdash.core.query import parse_query
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Claimant
from jobdash.core.store.records import (
    EXPORT_CELLS,
    RECORD_CELLS,
    RECORD_EXTRAS,
    JobFilter,
    Same,
    job_cells,
    job_record_cells,
)
from jobdash.core.waiting import NAMED_IN_LINE
from jobdash.tui.widgets.job_rows import sort_rows
from tests.store_contract.jobs import commands, finish, run_all
from tests.test_query import QUERIES


def agent(name: str, pid: int = 4242) -> AgentInfo:
    return AgentInfo(name, "host", pid, "v", 4, 0, "idle", time.time(), time.time())


async def varied_jobs(store: Store) -> None:
    """Jobs of several types, users, targets, parameters, triggers and statuses."""
    specs = [
        ("import-files", "alice", "/data/in", {"source": "été"}, Trigger.MANUAL),
        ("import-db", "bob", "disk full", {"x:y": "ça"}, Trigger.SCHEDULE),
        ("backup", "root", "", {}, Trigger.API),
        ("export", "alice", "/srv/data", {"marketing": "lost"}, Trigger.MANUAL),
    ]
    for i in range(12):
        type_, user, target, params, trigger = specs[i % len(specs)]
        job = await store.create_job(
            commands(type_, user=user, target=target, params=params, trigger=trigger)
        )
        if i % 3 == 0:
            await store.cancel_job(job.id, "root")
    await store.admit()
    for n, c in enumerate(await store.claim(Claimant("o", "o", 4, 600))):
        assert await finish(store, c, "o", ok=n % 2 == 0)


@pytest.mark.parametrize("text", QUERIES)
async def test_the_job_filter_answers_as_query_matches(store: Store, text: str) -> None:
    await varied_jobs(store)
    now = time.time()
    everything = await store.list_jobs(JobFilter(now=now))
    q = parse_query(text)
    got = await store.list_jobs(JobFilter(q, now=now))
    assert [j.id for j in got] == [j.id for j in everything if q.matches(j, now)]


@pytest.mark.parametrize("text", ["été", "ÉTÉ", "rapport", "RAPPORT", "-été", "target:été"])
async def test_the_job_filter_folds_ascii_letters_only(store: Store, text: str) -> None:
    """Upper-case letters beyond ASCII in the jobs' text stay as they are, as `query.fold`
    leaves them (a locale's lower case, PostgreSQL's `lower()` under the database's
    collation, would fold É to é and find "été" in "ÉTÉ")."""
    upper = await store.create_job(
        commands("report", target="/Rapports/ÉTÉ", params={"season": "RAPPORT ÉTÉ"})
    )
    lower = await store.create_job(commands("report", target="/rapports/été"))
    await store.create_job(commands("other", target="/x"))
    now = time.time()
    everything = await store.list_jobs(JobFilter(now=now))
    q = parse_query(text)
    got = [j.id for j in await store.list_jobs(JobFilter(q, now=now))]
    assert got == [j.id for j in everything if q.matches(j, now)]
    expected = {
        "été": [lower.id],
        "ÉTÉ": [upper.id],
        "rapport": sorted([lower.id, upper.id]),
        "target:été": [lower.id],
    }
    if text in expected:
        assert sorted(got) == expected[text]


async def test_the_job_filters_other_fields(store: Store) -> None:
    await varied_jobs(store)
    await store.create_job(commands("fired", schedule_id="s", fire_time=1.0))
    every = await store.list_jobs()
    assert [j.id for j in every] == sorted((j.id for j in every), reverse=True)
    oldest = await store.list_jobs(JobFilter(oldest_first=True, limit=3))
    assert [j.id for j in oldest] == sorted(j.id for j in every)[:3]
    alice = await store.list_jobs(JobFilter(user="alice"))
    assert alice == [j for j in every if j.user == "alice"]
    active = await store.list_jobs(JobFilter(active=True))
    assert active == [j for j in every if not j.status.finished]
    done = await store.list_jobs(JobFilter(active=False))
    assert done == [j for j in every if j.status.finished]
    assert [j.type for j in await store.list_jobs(JobFilter(schedule_id="s"))] == ["fired"]
    with pytest.raises(NotFound):
        await store.get_job(10_000)


@pytest.mark.parametrize("oldest_first", [False, True], ids=["newest first", "oldest first"])
@pytest.mark.parametrize("text", ["", "user:alice", "status:cancelled,succeeded type:import"])
async def test_keyset_pages_give_the_listing_page_by_page(
    store: Store, text: str, oldest_first: bool
) -> None:
    """`after_id` + `limit`: pages read one after another are the one listing, in its
    order, with nothing twice or left out (an export of millions is read this way)."""
    await varied_jobs(store)
    f = JobFilter(parse_query(text), oldest_first=oldest_first, now=time.time())
    whole = [j.id for j in await store.list_jobs(f)]
    assert len(whole) >= 3
    paged: list[int] = []
    after: int | None = None
    while page := await store.list_jobs(replace(f, after_id=after, limit=2)):
        assert len(page) <= 2
        paged += [j.id for j in page]
        after = page[-1].id
    assert paged == whole


async def exported(store: Store, text: str) -> tuple[Job, JobFilter, list[Job]]:
    """The jobs an export of `text` reads: `varied_jobs` and a paused one (why it waits,
    its info), the filter, and what `list_jobs` lists of them."""
    await varied_jobs(store)
    paused = await store.create_job(commands("import-files", params={"z": "1", "a": "2"}))
    await store.admit()
    await store.pause_job(paused.id, "root")
    f = JobFilter(parse_query(text), now=time.time())
    jobs = await store.list_jobs(f)
    assert len(jobs) >= 3
    return paused, f, jobs


@pytest.mark.parametrize("text", ["", "user:alice", "-status:cancelled", "import"])
async def test_export_cells_are_the_listed_jobs_cells(store: Store, text: str) -> None:
    """`export_cells` (what a CSV export of millions reads) says what `job_cells` makes of
    `list_jobs`' jobs, for every status (a paused job too: why it waits, its info), page by
    page as an export reads them."""
    paused, f, jobs = await exported(store, text)
    cells = await store.export_cells(f)
    assert cells == [job_cells(j) for j in jobs]
    page = await store.export_cells(replace(f, limit=2, after_id=jobs[0].id))
    assert page == [job_cells(j) for j in jobs[1:3]]
    named = {c[0]: dict(zip(EXPORT_CELLS, c, strict=True)) for c in cells}
    if text == "":
        assert named[paused.id]["status"] == "paused"


@pytest.mark.parametrize("text", ["", "user:alice", "-status:cancelled"])
async def test_record_cells_are_the_listed_jobs_records(store: Store, text: str) -> None:
    """`record_cells` (what a JSON export of millions reads) says what `job_record_cells`
    makes of `list_jobs`' jobs (the Service's extras aside), for every status (a paused
    job: why it waits), page by page as an export reads them."""
    _, f, jobs = await exported(store, text)
    stored = len(RECORD_CELLS) - len(RECORD_EXTRAS)
    assert RECORD_CELLS[stored:] == RECORD_EXTRAS
    assert await store.record_cells(f) == [job_record_cells(j)[:stored] for j in jobs]
    page = await store.record_cells(replace(f, limit=2, after_id=jobs[0].id))
    assert page == [job_record_cells(j)[:stored] for j in jobs[1:3]]


@pytest.mark.parametrize("kind", ["record", "export"])
@pytest.mark.parametrize("text", ["", "user:alice", "-status:cancelled"])
async def test_record_columns_are_the_record_cells(store: Store, text: str, kind: str) -> None:
    """`record_columns` (a JSON export's read, a column at a time: a value all of a page's
    jobs hold given once, and on SQLite not read again when the next page's jobs hold it
    too) gives the cells `record_cells` gives, a page after another of one job, of two, of
    all: pages whose jobs hold the previous page's values and pages whose jobs do not; and
    `export_columns` (a CSV export's) the cells `export_cells` gives, alike."""
    _, f, _ = await exported(store, text)
    read_cells, read_columns = (
        (store.record_cells, store.record_columns)
        if kind == "record"
        else (store.export_cells, store.export_columns)
    )
    cells = await read_cells(f)
    for size in (1, 2, len(cells), 1, 3):
        after: int | None = None
        for start in range(0, len(cells), size):
            page = await read_columns(replace(f, limit=size, after_id=after))
            expected = cells[start : start + size]
            assert len(page) == len(expected)
            assert [page[i] for i in range(len(page))] == expected
            for name, column in page.columns.items():
                if not isinstance(column, Same):
                    assert len(column) == len(expected), name
            after = page[-1][0]
    assert len(await read_columns(replace(f, limit=5, after_id=0))) == 0


@pytest.mark.parametrize("order", ["id", "type", "user", "status", "started", "time", "info"])
@pytest.mark.parametrize("text", ["", "data", "user:alice", "-status:cancelled"])
async def test_window_pages_counts_and_sorts_are_the_in_memory_ones(
    store: Store, order: str, text: str
) -> None:
    """The Completed tab's window: finished jobs sorted by a column as the job table sorts
    them, read page by page by offset from either end, free words through the text index,
    counted exactly and capped."""
    await varied_jobs(store)
    assert await store.index_text(batches=None)
    now = time.time()
    q = parse_query(text)
    every = await store.list_jobs(JobFilter(now=now))
    for descending in (True, False):
        want = [j for j in every if j.status.finished and q.matches(j, now)]
        sort_rows(want, order, descending, lambda: now)
        f = JobFilter(q, active=False, order=order, oldest_first=not descending, now=now)
        f = replace(f, indexed=True)
        pages: list[int] = []
        while page := await store.list_jobs(replace(f, limit=2, offset=len(pages))):
            pages += [j.id for j in page]
        assert pages == [j.id for j in want], (order, descending)
        assert await store.count_jobs(f) == len(want)
        assert await store.count_jobs(f, cap=1) == min(len(want), 2)


async def test_admission_waits_for_a_live_engine_of_the_jobs_type_and_hash(
    store: Store,
) -> None:
    await store.register_agent(agent("e1"), "e1/1")
    await store.publish_catalogue("e1", {"x": ("h1", {}), "y": ("h2", {})})
    await store.heartbeat("e1", "e1/1", "idle", 600)
    since = time.time() - 3600
    runs = await store.create_job(commands("x", type_hash="h1"))
    changed = await store.create_job(commands("y", type_hash="old"))
    unknown = await store.create_job(commands("z", type_hash="h3"))
    await store.admit(live_after=since)
    assert (await store.get_job(runs.id)).status is JobStatus.RUNNING
    for job, why in ((changed, "type y changed since submit"), (unknown, "not define type z")):
        waiting = await store.get_job(job.id)
        assert waiting.status is JobStatus.WAITING and why in waiting.info, waiting.info
    assert sorted((p.agent, p.name, p.hash) for p in await store.catalogue()) == [
        ("e1", "x", "h1"),
        ("e1", "y", "h2"),
    ]


async def test_a_running_job_that_runs_nothing_says_why_while_the_reason_holds(
    store: Store,
) -> None:
    job = await store.create_job(commands("x", type_hash="h1"))
    await store.admit()
    since = time.time() - 3600
    assert await store.note_waits(since) == 1
    assert "no live agent" in (await store.get_job(job.id)).info
    assert await store.note_waits(since) == 0  # nothing changed
    await store.register_agent(agent("e1"), "e1/1")
    await store.heartbeat("e1", "e1/1", "idle", 600)
    assert await store.note_waits(since) == 1
    assert "not define type x" in (await store.get_job(job.id)).info
    await store.publish_catalogue("e1", {"x": ("h1", {})})
    assert await store.note_waits(since) == 1  # the reason no longer holds: cleared
    assert (await store.get_job(job.id)).info == ""


async def test_a_backlog_waiting_for_slots_is_written_once_not_every_pass(
    store: Store,
) -> None:
    """The next jobs in line name the jobs holding the slots (those names change with every
    task that ends); the jobs behind them say only that the slots are used, a reason that
    stays while they wait: a pass writes nothing for them once they say it."""
    await store.register_agent(agent("e1"), "e1/1")
    await store.heartbeat("e1", "e1/1", "idle", 600)
    await store.publish_catalogue("e1", {"x": ("h1", {})})
    since = time.time() - 3600
    jobs = await store.create_jobs(
        [commands("x", type_hash="h1") for _ in range(NAMED_IN_LINE + 30)]
    )
    await store.admit(live_after=since)
    busy = await store.claim(Claimant("e1/1", "e1", 4, 600))  # its 4 slots used
    assert len(busy) == 4
    holders = sorted(c.job_id for c in busy)
    idle = [j for j in jobs if j not in holders]
    assert await store.note_waits(since) == len(idle)
    named = f"agents busy: 4/4 slots (jobs {', '.join(map(str, holders[:3]))} and 1 more)"
    infos = [(await store.get_job(j)).info for j in idle]
    plain = "agents busy: 4/4 slots"
    assert infos == [named] * NAMED_IN_LINE + [plain] * (len(idle) - NAMED_IN_LINE)
    # The first job ends and the next in line takes its slot: the names change, so the
    # reasons that name them are written again, and the next in line behind them (the
    # job that moved up) gets the named one; nothing else is written.
    assert await finish(store, busy[0], "e1/1")
    await store.flush()
    assert len(await store.claim(Claimant("e1/1", "e1", 1, 600))) == 1
    assert await store.note_waits(since) == NAMED_IN_LINE
    assert await store.note_waits(since) == 0
    assert (await store.get_job(idle[-1])).info == "agents busy: 4/4 slots"


async def test_jobs_created_within_the_grace_show_no_reason_yet(store: Store) -> None:
    """The engines' pass leaves out the jobs created less than its grace ago (most are
    claimed within a poll: a bulk submission's thousands each written and then cleared for
    nothing); once past it they say why they wait, as without one."""
    await store.register_agent(agent("e1"), "e1/1")
    await store.heartbeat("e1", "e1/1", "idle", 600)
    await store.publish_catalogue("e1", {"x": ("h1", {})})
    since = time.time() - 3600
    jobs = await store.create_jobs([commands("x", type_hash="h1") for _ in range(6)])
    await store.admit(live_after=since)
    busy = await store.claim(Claimant("e1/1", "e1", 4, 600))  # its 4 slots used
    idle = [j for j in jobs if j not in {c.job_id for c in busy}]
    assert len(idle) == 2
    assert await store.note_waits(since, grace=60) == 0
    assert [(await store.get_job(j)).info for j in idle] == ["", ""]
    assert await store.note_waits(since, grace=0) == 2  # past the grace (none here)
    shown = [(await store.get_job(j)).info for j in idle]
    assert (
        shown
        == [
            "agents busy: 4/4 slots (jobs "
            + ", ".join(map(str, sorted(c.job_id for c in busy)[:3]))
            + " and 1 more)"
        ]
        * 2
    )
    # A reason shown stays while the job is within the grace: only new ones wait for it.
    assert await store.note_waits(since, grace=60) == 0
    assert [(await store.get_job(j)).info for j in idle] == shown


async def test_a_claim_counts_its_limit_and_idleness_when_it_claims(store: Store) -> None:
    await store.create_job(commands("many", tasks=5))
    await store.admit()
    asked: list[str] = []

    def claimant() -> Claimant:
        asked.append("claimant")
        return Claimant("o", "o", 3, 600, idle=True)

    assert len(await store.claim(claimant)) == 3
    assert asked == ["claimant"]
    assert await store.claim(lambda: Claimant("o", "o", 0, 600)) == []
    assert await store.claim(lambda: None) == []


async def test_heartbeats_renew_leases_and_carry_the_drain_flag(store: Store) -> None:
    await store.create_job(commands("held", tasks=2))
    await store.admit()
    await store.register_agent(agent("a"), "a/1")
    claims = await store.claim(Claimant("a/1", "a", 2, 600))
    held, drain = await store.heartbeat("a", "a/1", "busy", 600)
    assert (held, drain) == ({c.task_id for c in claims}, False)
    with pytest.raises(Refused, match="agent a is not drained; nothing to undrain"):
        await store.set_agent_drain("a", "root", drain=False)
    await store.set_agent_drain("a", "root")
    with pytest.raises(NotFound):
        await store.set_agent_drain("nobody", "root")
    assert (await store.heartbeat("a", "a/1", "busy", 600))[1] is True
    assert [(a.name, drain) for a, drain in await store.agents()] == [("a", True)]
    assert {name: len(tasks) for name, tasks in (await store.running_tasks()).items()} == {"a": 2}
    for c in claims:
        assert await finish(store, c, "a/1")
    await store.agent_offline("a", "a/1", done=2)
    ((info, _drain),) = await store.agents()
    assert (info.state, info.running) == ("offline", 0)


async def test_draining_a_drained_agent_is_refused(store: Store) -> None:
    await store.register_agent(agent("a"), "a/1")
    await store.set_agent_drain("a", "root")
    with pytest.raises(Refused, match="already drained"):
        await store.set_agent_drain("a", "root")
    assert [e.action for e in await store.audit_events("agent:a")] == ["drain"]


async def test_silent_agents_are_pruned_keeping_their_totals(store: Store) -> None:
    await store.register_agent(agent("gone"), "g/1")
    await store.heartbeat("gone", "g/1", "idle", 600, done=5, failed=1)
    await store.agent_offline("gone", "g/1")
    await store.register_agent(agent("holder"), "h/1")  # silent too, but holds a task
    await store.create_job(commands("held"))
    await store.admit()
    await store.claim(Claimant("h/1", "holder", 1, 600))
    assert await store.prune_agents(time.time() + 1) == 1
    assert [a.name for a, _drain in await store.agents()] == ["holder"]
    pruned = await store.pruned_agents()
    assert (pruned.done, pruned.failed) >= (5, 1)


async def test_closing_writes_what_is_buffered(location: str) -> None:
    store = await open_store(location)
    job = await store.create_job(commands("chatty"))
    for i in range(10):
        store.append_log_nowait(job.id, None, "stdout", f"line {i}")
    await store.close()
    store = await open_store(location)
    try:
        assert [ln.text for ln in await store.logs(job.id)] == [f"line {i}" for i in range(10)]
        assert [ln.text for ln in await store.log_tail(job.id, 2)] == ["line 8", "line 9"]
        first = await store.logs(job.id, limit=3)
        rest = await store.logs(job.id, after=first[-1].seq)
        assert [ln.text for ln in first + rest] == [f"line {i}" for i in range(10)]
    finally:
        await store.close()


async def test_a_store_that_settles_everything_leaves_nothing_to_claim(store: Store) -> None:
    await store.create_job(commands("a", tasks=3))
    await run_all(store)
    assert not await store.has_claimable()
    assert not await store.has_jobs_to_admit()
    assert not await store.has_lost_tasks()
