"""Read marks (unread logs): each job's lines to read counted by level as they are written,
a user's mark through a line with the counts up to it, moving only forward, in the change
feed, kept across a reopening, and gone with the job (clear, retention)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from jobdash.core.model import LineLevel, counts_as_read, line_level
from jobdash.core.store.base import Store
from jobdash.core.store.side_records import ReadMark
from tests.store_contract.jobs import commands, run_all

# (stream, text): what each counts as (core.model.line_level, counts_as_read).
LINES = [
    ("stdout", "reading a.csv"),  # output
    ("stderr", "a.csv: line 3: bad date"),  # error
    ("system", "attempt 2 started"),  # jobdash's own: not counted
    ("stderr", "WARNING: 2 rows skipped"),  # warning (any case)
    ("stdout", "   "),  # blank: not counted
    ("stderr", "warning: disk 91% full"),  # warning
    ("stdout", "wrote b.csv"),  # output
    ("stderr", "b.csv: permission denied"),  # error
]


async def job_with_lines(store: Store, user: str = "root") -> int:
    job = await store.create_job(commands("marks", user=user))
    for stream, text in LINES:
        await store.append_log(job.id, None, stream, text)
    await store.flush()
    return job.id


async def test_the_writer_counts_lines_to_read_by_level(store: Store) -> None:
    job_id = await job_with_lines(store)
    job = await store.get_job(job_id)
    assert (job.log_lines, job.log_warnings, job.log_errors) == (6, 2, 2)
    await store.append_log(job_id, None, "stderr", "late failure")
    await store.flush()
    job = await store.get_job(job_id)
    assert (job.log_lines, job.log_warnings, job.log_errors) == (7, 2, 3)
    # Every read of a job carries them: a listing as much as one job.
    listed = {j.id: j for j in await store.list_jobs()}[job_id]
    assert (listed.log_lines, listed.log_warnings, listed.log_errors) == (7, 2, 3)


async def test_a_mark_holds_the_counts_up_to_its_line_and_moves_only_forward(
    store: Store,
) -> None:
    job_id = await job_with_lines(store)
    seqs = [line.seq for line in await store.logs(job_id)]
    # Read through the fourth line: output, an error, a note, a warning.
    mark = await store.mark_read("alice", job_id, seqs[3])
    assert mark == ReadMark("alice", job_id, seqs[3], 3, 1, 1)
    assert await store.read_marks("alice") == [mark]
    assert await store.read_marks("bob") == []
    # Not back, not again.
    assert await store.mark_read("alice", job_id, seqs[1]) is None
    assert await store.mark_read("alice", job_id, seqs[3]) is None
    assert await store.read_marks("alice") == [mark]
    # To the end: every counted line.
    end = await store.mark_read("alice", job_id, seqs[-1])
    assert end == ReadMark("alice", job_id, seqs[-1], 6, 2, 2)
    # Another user's mark is their own.
    bob = await store.mark_read("bob", job_id, seqs[0])
    assert bob == ReadMark("bob", job_id, seqs[0], 1, 0, 0)
    assert await store.read_marks("alice") == [end]
    # A job that is not there takes no mark.
    assert await store.mark_read("alice", job_id + 100, 1) is None


async def test_a_mark_moved_line_by_line_holds_the_counts_a_mark_made_at_once_holds(
    store: Store,
) -> None:
    """A mark moved forward is counted from the user's previous mark where that is nearer
    than the log's end (`logs` marks what it printed each second, far from the end): the
    counts are the same either way, whichever side each step was counted from."""
    job_id = await job_with_lines(store)
    seqs = [line.seq for line in await store.logs(job_id)]
    for k, seq in enumerate(seqs):
        levels = [line_level(s, t) for s, t in LINES[: k + 1] if counts_as_read(s, t)]
        expected = (
            len(levels),
            levels.count(LineLevel.WARNING),
            levels.count(LineLevel.ERROR),
        )
        step = await store.mark_read("alice", job_id, seq)
        at_once = await store.mark_read(f"user{k}", job_id, seq)
        assert at_once is not None and step is not None
        assert (step.lines, step.warnings, step.errors) == expected, k
        assert (at_once.lines, at_once.warnings, at_once.errors) == expected, k


async def test_a_mark_and_its_job_are_in_the_change_feed(store: Store) -> None:
    job_id = await job_with_lines(store)
    last = (await store.logs(job_id))[-1].seq
    rev = await store.rev()
    mark = await store.mark_read("alice", job_id, last)
    changes = await store.changes_since(rev)
    assert changes.read == [mark]
    assert [j.id for j in changes.jobs] == [job_id]  # stamped: a watcher shows it again
    assert (await store.changes_since(changes.rev)).read == []


async def test_marks_are_kept_across_a_reopening(
    stores: Callable[[], Awaitable[Store]],
) -> None:
    first = await stores()
    job_id = await job_with_lines(first)
    last = (await first.logs(job_id))[-1].seq
    mark = await first.mark_read("alice", job_id, last)
    await first.close()
    again = await stores()
    assert await again.read_marks("alice") == [mark]


async def test_marks_go_with_their_job(store: Store) -> None:
    cleared = await job_with_lines(store, user="alice")
    kept = await job_with_lines(store, user="alice")
    pruned = await job_with_lines(store, user="bob")
    await run_all(store)
    for job_id in (cleared, kept, pruned):
        last = (await store.logs(job_id))[-1].seq
        for user in ("alice", "root"):
            assert await store.mark_read(user, job_id, last) is not None
    assert await store.clear_ids([cleared], "alice", "alice") == 1
    # alice's clear takes root's mark of her job too.
    assert {m.job_id for m in await store.read_marks("root")} == {kept, pruned}
    assert {m.job_id for m in await store.read_marks("alice")} == {kept, pruned}
    finished = max([(await store.get_job(j)).finished or 0 for j in (kept, pruned)])
    assert await store.prune(finished + 1) == 2
    assert await store.read_marks("root") == []
    assert await store.read_marks("alice") == []
