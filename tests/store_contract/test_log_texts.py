"""`log_texts`: the lines `logs` gives, by column, as printing them takes them: the same
lines in the same order (after a line, of one task, a page at a time), and the attempt of
each line of a task's output written by an earlier attempt than the task's latest."""

from __future__ import annotations

from jobdash.core.model import LogLine, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant, Outcome
from tests.store_contract.jobs import commands


def marked(lines: list[LogLine]) -> list[int | None]:
    """What `LogTexts.earlier` says of `lines`."""
    return [ln.attempt if ln.earlier and ln.stream != "system" else None for ln in lines]


async def test_log_texts_are_the_printed_columns_of_logs(store: Store) -> None:
    job = await store.create_job(commands("import", tasks=2, retries=1))
    await store.append_log(job.id, None, "stdout", "the job's own line")
    for attempt in (1, 2):
        await store.admit()
        for c in await store.claim(Claimant("a", "a", 2, 600)):
            await store.append_log(job.id, c.task_id, "stdout", f"{c.name} a{attempt}", attempt)
            await store.append_log(job.id, c.task_id, "stderr", "\x1b[31mred\x1b[0m", attempt)
            await store.flush()
            status = TaskStatus.FAILED if c.name == "import1" else TaskStatus.SUCCEEDED
            await store.complete(Outcome(c.task_id, c.attempt, "a", status, 1, "exit 1"))
        await store.flush()
    lines = await store.logs(job.id)
    # import1's first attempt is an earlier one now; the note of its retry is jobdash's own.
    assert ("import1 a1", True) in [(ln.text, ln.earlier) for ln in lines]
    assert any(ln.earlier and ln.stream == "system" for ln in lines)

    page = await store.log_texts(job.id, 0)
    assert page.job_id == job.id and len(page) == len(lines)
    assert list(page.seqs) == [ln.seq for ln in lines]
    assert list(page.task_ids) == [ln.task_id for ln in lines]
    assert list(page.texts) == [ln.text for ln in lines]
    assert list(page.earlier) == marked(lines) and 1 in page.earlier

    first = await store.log_texts(job.id, 0, limit=3)
    rest = await store.log_texts(job.id, first.seqs[-1])
    assert [*first.seqs, *rest.seqs] == [ln.seq for ln in lines] and len(first) == 3
    assert len(await store.log_texts(job.id, lines[-1].seq)) == 0

    one = await store.logs(job.id, task_seq=1)
    of_one = await store.log_texts(job.id, 0, task_seq=1)
    assert list(of_one.seqs) == [ln.seq for ln in one]
    assert list(of_one.earlier) == marked(one)


async def test_log_block_is_the_page_joined(store: Store) -> None:
    """`log_block`: `log_texts`' page as one text, joined by line breaks in the order the
    lines were written, with what tells whether it prints as it is: its task, whether it
    mixes tasks, whether some line is of an earlier attempt than its task's latest."""
    job = await store.create_job(commands("import", tasks=2, retries=1))
    await store.append_log(job.id, None, "stdout", "the job's own line")
    for attempt in (1, 2):
        await store.admit()
        for c in await store.claim(Claimant("a", "a", 2, 600)):
            for i in range(3):
                await store.append_log(job.id, c.task_id, "stdout", f"{c.name} {i}", attempt)
            await store.append_log(job.id, c.task_id, "stderr", "é \x1b[31mred\t", attempt)
            await store.flush()
            status = TaskStatus.FAILED if c.name == "import1" else TaskStatus.SUCCEEDED
            await store.complete(Outcome(c.task_id, c.attempt, "a", status, 1, "exit 1"))
        await store.flush()
    lines = await store.logs(job.id)
    whole = await store.log_block(job.id, 0)
    assert whole.job_id == job.id and whole.lines == len(lines) and whole.last == lines[-1].seq
    assert whole.text == "\n".join(ln.text for ln in lines)
    assert whole.mixed and whole.earlier

    first = await store.log_block(job.id, 0, limit=2)  # the job's line, a task's first
    rest = await store.log_block(job.id, first.last)
    assert f"{first.text}\n{rest.text}" == whole.text and first.lines == 2
    assert not first.mixed and first.task == lines[1].task_id
    assert first.earlier == lines[1].earlier
    empty = await store.log_block(job.id, lines[-1].seq)
    assert (empty.lines, empty.last, empty.text) == (0, lines[-1].seq, "")

    for seq in (1, 2):  # import1 failed its first attempt, import2 did not
        one = await store.logs(job.id, task_seq=seq)
        of_one = await store.log_block(job.id, 0, task_seq=seq)
        assert of_one.text == "\n".join(ln.text for ln in one) and of_one.last == one[-1].seq
        assert not of_one.mixed and of_one.task == one[0].task_id
        assert of_one.earlier == any(ln.earlier for ln in one)
    latest = [ln for ln in await store.logs(job.id, task_seq=1) if not ln.earlier]
    after = await store.log_block(job.id, latest[0].seq - 1, task_seq=1)
    assert not after.earlier and after.text == "\n".join(ln.text for ln in latest)


async def test_log_block_pages_of_a_job_among_others(store: Store) -> None:
    """A job's pages as one text are its own lines in order, whether they fill their span
    of the log (a lone job's: read along the table) or lie among another job's (read by
    the index): every line once, no other job's, each page its count and last line."""
    one = await store.create_job(commands("one"))
    other = await store.create_job(commands("other"))
    await store.admit()
    task = {c.job_id: c.task_id for c in await store.claim(Claimant("a", "a", 2, 600))}

    async def write(job: int, text: str) -> None:
        await store.append_log(job, task[job], "stdout", text, 1)

    for i in range(5):  # alone
        await write(one.id, f"one {i}")
    await store.flush()
    for i in range(5, 11):  # a line of its own in every third
        for j in range(2):
            await write(other.id, f"other {i} {j}")
        await write(one.id, f"one {i}")
    await store.flush()
    for i in range(11, 14):  # alone again
        await write(one.id, f"one {i}")
    await store.flush()
    lines = await store.logs(one.id)
    assert [ln.text for ln in lines] == [f"one {i}" for i in range(14)]

    for limit in (1, 2, 4, 5, 6, 14, None):
        after, pages = 0, []
        while (page := await store.log_block(one.id, after, limit=limit)).lines:
            pages.append(page)
            after = page.last
        got = [text for page in pages for text in page.text.split("\n")]
        assert got == [ln.text for ln in lines], limit
        sizes = [page.lines for page in pages]
        assert sizes == [len(got[i : i + (limit or 14)]) for i in range(0, 14, limit or 14)]
        ends = [page.last for page in pages]
        assert ends == [ln.seq for ln in lines][(limit or 14) - 1 :: limit or 14] + (
            [lines[-1].seq] if 14 % (limit or 14) else []
        )
        assert all(p.task == task[one.id] and not p.mixed and not p.earlier for p in pages)
