"""`export`, `jobs --json` and `logs` read the store a page at a time (1,000 jobs, 5,000
log lines) and write as they read: across page boundaries nothing is lost, repeated or
reordered, and the text is the same as one read would give (JSON parses whole, CSV has one
row a job)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from jobdash.core.store.base import open_store
from jobdash.core.store.engine_records import NewTask
from tests.conftest import new_job, run_cli

JOBS = 2_345  # over two page boundaries
LINES = 12_345


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """A store of JOBS jobs, the first with LINES log lines; (its path, that job's id)."""
    import asyncio

    db = str(tmp_path_factory.mktemp("streaming") / "s.db")

    async def seed() -> int:
        store = await open_store(db)
        try:
            first = await store.create_job(
                new_job("chatty", [NewTask("main", "main", "command", None)])
            )
            for i in range(LINES):
                await store.append_log(first.id, None, "stdout", f"line {i}")
            for i in range(JOBS - 1):
                await store.create_job(
                    new_job(
                        f"t{i % 7}", [NewTask("main", "main", "command", None)], target=f"=x{i}"
                    )
                )
            return first.id
        finally:
            await store.close()

    return db, asyncio.run(seed())


def test_export_csv_streams_every_job_once_newest_first(history: tuple[str, int]) -> None:
    db, _ = history
    done = run_cli("--db", db, "export", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == JOBS
    assert all(r["target"].startswith("'=") for r in rows if r["target"])  # cells stay inert


@pytest.mark.parametrize("query", ["", "type:t3", "-status:stalled"])
def test_export_csv_from_the_stores_cells_is_the_listed_jobs_export(
    history: tuple[str, int], query: str, tmp_path: Path
) -> None:
    """The CSV written from the store's export cells, page by page, is the text
    `export_jobs` makes of the jobs listed whole (a flag is told from the jobs' timing:
    that export reads jobs, and writes the same)."""
    import asyncio

    from jobdash.core.service import Service
    from jobdash.core.service.export import export_jobs

    db, _ = history

    async def whole() -> str:
        svc = await Service.open(db=db, reading=True)
        try:
            return export_jobs(await svc.jobs(query), "csv")
        finally:
            await svc.close()

    out = tmp_path / "jobs.csv"
    done = run_cli("--db", db, "export", "--format", "csv", "-o", str(out), *query.split())
    assert done.returncode == 0, done.stderr
    got, want = out.read_bytes(), asyncio.run(whole()).encode()
    same = got == want  # not pytest's diff of two texts of thousands of lines
    lines = zip(got.splitlines(), want.splitlines(), strict=False)
    assert same, [(a, b) for a, b in lines if a != b][:3]
    assert want.count(b"\r\n") > 1


def test_export_json_and_jobs_json_are_one_document_across_pages(
    history: tuple[str, int], tmp_path: Path
) -> None:
    db, _ = history
    out = tmp_path / "all.json"
    done = run_cli("--db", db, "export", "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert f"{JOBS} jobs written to" in done.stderr
    exported = json.loads(out.read_text())
    assert [j["id"] for j in exported] == list(range(JOBS, 0, -1))
    listed = run_cli("--db", db, "jobs", "--all", "--json")
    assert [j["id"] for j in json.loads(listed.stdout)] == list(range(JOBS, 0, -1))
    limited = run_cli("--db", db, "jobs", "--limit", "1001", "--json", "type:t3")
    every_t3 = [j["id"] for j in exported if j["type"] == "t3"]
    assert [j["id"] for j in json.loads(limited.stdout)] == every_t3[:1001]


def test_logs_stream_every_line_in_order(history: tuple[str, int]) -> None:
    db, job = history
    done = run_cli("--db", db, "logs", str(job))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"line {i}" for i in range(LINES)]
    tail = run_cli("--db", db, "logs", str(job), "--tail", "3")
    assert tail.stdout.splitlines() == [f"line {i}" for i in range(LINES - 3, LINES)]


def test_logs_piped_print_what_the_lines_read_one_by_one_print(tmp_path: Path) -> None:
    """Piped, `logs JOB` reads its pages by column (`LogTexts`), `--tail N` as line objects:
    both print the same text, each line labelled with its task, an earlier attempt's output
    marked (not the note of its retry: jobdash's own), control characters made inert."""
    import asyncio

    from jobdash.core.model import TaskStatus
    from jobdash.core.store.engine_records import Claimant, Outcome
    from tests.store_contract.jobs import commands

    db = str(tmp_path / "s.db")

    async def seed() -> int:
        store = await open_store(db)
        try:
            job = await store.create_job(commands("import", tasks=2, retries=1))
            await store.append_log(job.id, None, "stdout", "the job's\tline\u202e")
            for attempt in (1, 2):
                await store.admit()
                for c in await store.claim(Claimant("a", "a", 2, 600)):
                    text = f"{c.name} a{attempt} \x1b[2J\x07 [bold]x[/]"
                    await store.append_log(job.id, c.task_id, "stdout", text, attempt)
                    await store.flush()
                    ok = TaskStatus.FAILED if c.name == "import1" else TaskStatus.SUCCEEDED
                    await store.complete(Outcome(c.task_id, c.attempt, "a", ok, 1, "exit 1"))
                await store.flush()
            return job.id
        finally:
            await store.close()

    job = str(asyncio.run(seed()))
    by_column = run_cli("--db", db, "logs", job)
    assert by_column.returncode == 0, by_column.stderr
    by_line = run_cli("--db", db, "logs", job, "--tail", "1000")
    assert by_column.stdout == by_line.stdout
    shown = by_column.stdout.splitlines()
    assert "#1 import1 | [attempt 1] import1 a1 ␛[2J␇ [bold]x[/]" in shown, shown
    assert "#1 import1 | import1 a2 ␛[2J␇ [bold]x[/]" in shown, shown
    assert "job        | the job's line⇚" in shown, shown
    assert any(ln.startswith("#1 import1 | import1: attempt 1 of 2 failed") for ln in shown), shown


def test_logs_piped_print_a_joined_page_as_its_lines_print(tmp_path: Path) -> None:
    """A job of one task prints its pages as the store joined them (`LogBlock`): the same
    text as its lines read one by one, control characters inert; a page with a line that
    holds a line break of its own, or an earlier attempt's output, is read by column."""
    import asyncio

    from jobdash.core.model import TaskStatus
    from jobdash.core.store.engine_records import Claimant, Outcome
    from tests.store_contract.jobs import commands

    db = str(tmp_path / "s.db")
    odd = ["\x1b[2J\x07 [bold]x[/]", "cr\r", "\ttab", "é日\u202e\x9b", "", "\x7f\x00"]

    async def seed(attempts: int, broken: str) -> int:
        store = await open_store(db)
        try:
            job = await store.create_job(commands("import", tasks=1, retries=1))
            await store.append_log(job.id, None, "stdout", "the job's\tline")
            for attempt in range(1, attempts + 1):
                await store.admit()
                for c in await store.claim(Claimant("a", "a", 1, 600)):
                    for text in odd:
                        await store.append_log(job.id, c.task_id, "stdout", text, attempt)
                    await store.append_log(job.id, c.task_id, "stdout", broken, attempt)
                    await store.flush()
                    ok = TaskStatus.FAILED if attempt < attempts else TaskStatus.SUCCEEDED
                    await store.complete(Outcome(c.task_id, c.attempt, "a", ok, 1, "exit 1"))
                await store.flush()
            return job.id
        finally:
            await store.close()

    for attempts, broken in ((1, "plain"), (1, "two\nlines"), (2, "plain")):
        job = str(asyncio.run(seed(attempts, broken)))
        for task in ([], ["--task", "1"]):
            joined = run_cli("--db", db, "logs", job, *task)
            assert joined.returncode == 0, joined.stderr
            by_line = run_cli("--db", db, "logs", job, *task, "--tail", "1000")
            assert joined.stdout == by_line.stdout
            shown = joined.stdout.splitlines()
            assert "␛[2J␇ [bold]x[/]" in shown and "cr␍" in shown and " tab" in shown, shown
            assert "é日⇚\ufffd" in shown and "␡␀" in shown, shown
            assert ("two␊lines" in shown) == (broken != "plain"), shown
            assert ("[attempt 1] cr␍" in shown) == (attempts > 1), shown
