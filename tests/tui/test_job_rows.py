"""The job table's row model without Textual: after any mix of upserts, removals, sort and
filter changes, the shown rows are exactly the held jobs filtered and sorted, and the
index says where each one is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobdash.core.model import Job, JobStatus
from jobdash.tui.widgets.job_rows import COLUMN_KEYS, JobRows, sort_key
from tests.tui.job_factory import NOW, make_job


def clock() -> float:
    return NOW


def expected(jobs: dict[int, Job], column: str, reverse: bool, keep: Any) -> list[Job]:
    shown = [job for job in jobs.values() if keep is None or keep(job)]
    return sorted(shown, key=sort_key(column, clock), reverse=reverse)


def assert_consistent(model: JobRows, jobs: dict[int, Job], keep: Any) -> None:
    assert model.all == jobs
    want = expected(jobs, model.sort_column, model.reverse, keep)
    assert [job.id for job in model.rows] == [job.id for job in want]
    assert model.rows == want
    assert model.index == {job.id: n for n, job in enumerate(model.rows)}


def odd_target(job: Job) -> bool:
    return job.failed % 2 == 1


STATUSES = list(JobStatus)
jobs_strategy = st.builds(
    lambda job_id, status, user, failed, started, info: make_job(
        job_id,
        status=status,
        user=user,
        failed=failed,
        started=started,
        info=info,
        finished=None if not status.finished else NOW - 10,
    ),
    job_id=st.integers(1, 40),
    status=st.sampled_from(STATUSES),
    user=st.sampled_from(["alice", "bob", "carol"]),
    failed=st.integers(0, 3),
    started=st.one_of(st.none(), st.floats(NOW - 5000, NOW, allow_nan=False)),
    info=st.sampled_from(["", "a", "b"]),
)
operations = st.one_of(
    st.tuples(st.just("upsert"), st.lists(jobs_strategy, max_size=12)),
    st.tuples(st.just("remove"), st.lists(st.integers(1, 40), max_size=6)),
    st.tuples(st.just("sort"), st.sampled_from(COLUMN_KEYS), st.booleans()),
    st.tuples(st.just("filter"), st.booleans()),
    st.tuples(st.just("set"), st.lists(jobs_strategy, max_size=20)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(operations, max_size=25))
def test_any_sequence_of_changes_leaves_a_sorted_filtered_list(ops: list[Any]) -> None:
    model = JobRows(clock=clock)
    jobs: dict[int, Job] = {}
    keep: Any = None
    for op in ops:
        if op[0] == "upsert":
            patch = model.upsert(op[1])
            batch = {job.id: job for job in op[1]}
            jobs.update(batch)
            assert {job.id for job in patch.shown} <= set(batch)
        elif op[0] == "remove":
            model.remove(op[1])
            for job_id in op[1]:
                jobs.pop(job_id, None)
        elif op[0] == "sort":
            model.sort_by(op[1], op[2])
        elif op[0] == "filter":
            keep = odd_target if op[1] else None
            model.set_filter(keep)
        else:
            jobs = {job.id: job for job in op[1]}
            model.set_jobs(op[1])
        assert_consistent(model, jobs, keep)


def test_an_unchanged_job_is_no_change() -> None:
    model = JobRows(clock=clock)
    model.set_jobs([make_job(1), make_job(2)])
    patch = model.upsert([make_job(1)])
    assert patch.first is None and patch.in_place == [] and patch.shown == []


def test_a_change_that_keeps_the_order_is_patched_in_place() -> None:
    model = JobRows(sort="id", reverse=True, clock=clock)
    model.set_jobs([make_job(n) for n in range(1, 6)])
    newer = make_job(3, info="busy")
    patch = model.upsert([newer])
    assert patch.first is None
    assert patch.in_place == [(2, make_job(3), newer)]  # newest first: 5, 4, 3
    assert model.version[3] > 0


def test_a_move_reindexes_from_the_first_moved_row() -> None:
    model = JobRows(sort="failed", reverse=False, clock=clock)
    model.set_jobs([make_job(n) for n in range(1, 6)])
    patch = model.upsert([make_job(2, failed=9)])
    assert patch.first == 1  # job 2 left position 1 for the end
    assert [job.id for job in model.rows] == [1, 3, 4, 5, 2]
    assert model.remove([1, 99]) == 0
    assert [job.id for job in model.rows] == [3, 4, 5, 2]


def test_a_narrowing_filter_filters_only_the_shown_rows() -> None:
    model = JobRows(clock=clock)
    model.set_jobs([make_job(n, failed=n % 4) for n in range(1, 21)])
    model.set_filter(odd_target)
    seen: list[int] = []

    def only_three(job: Job) -> bool:
        seen.append(job.id)
        return job.failed == 3

    model.set_filter(only_three, narrows=True)
    assert sorted(seen) == sorted(job.id for job in model.all.values() if job.failed % 2 == 1)
    assert [job.id for job in model.rows] == [19, 15, 11, 7, 3]


def test_many_inserts_at_once_sort_once() -> None:
    model = JobRows(sort="user", reverse=False, clock=clock)
    jobs = [make_job(n, user=["carol", "alice", "bob"][n % 3]) for n in range(1, 1001)]
    model.upsert(jobs)
    assert model.rows == sorted(jobs, key=sort_key("user", clock))
    model.upsert([replace(job, user="zed") for job in jobs[:300]])
    assert [job.user for job in model.rows[-300:]] == ["zed"] * 300
    assert model.index == {job.id: n for n, job in enumerate(model.rows)}
