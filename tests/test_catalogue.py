"""The engine runs only what its own configuration defines (issue 8, item 2).

Real `jobdash serve|agent` processes, real `jobdash run` processes, the real SQLite file
(task rows written by a plain store client where a test says so). Each test has a submitter
whose config says something else than the engine's, and a marker file that the submitter's
version would create: the marker must never appear.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.core.catalogue import type_hash
from jobdash.core.config import load_config
from jobdash.core.store.base import open_store
from jobdash.core.store.engine_records import NewTask
from tests.conftest import new_job
from tests.test_agents import FAST, ROOT, Cluster, all_tasks, until

ENGINE = """
[types.x]
params.out = { required = true }
command = ["sh", "-c", "echo engine >> {out}"]

[types.many]
params.out = { required = true }
items = ["1", "2", "3", "4", "5", "6", "7", "8"]
command = ["sh", "-c", "echo engine-{item} >> {out}"]
parallel = 8

[types.py-ok]
function = "goodmod:plan"

# Fires every second: the scheduler admits its jobs at once (and must admit no other).
[types.tick]
command = ["true"]
schedule = "interval: 1s"
"""

# The submitter's own config: the same names, other work.
SUBMITTER = """
[types.x]
params.out = { required = true }
command = ["touch", "{out}.marker"]

[types.py]
function = "evilmod:run"
"""

# Importable by the engine (on its PYTHONPATH), so that running them is only a question of
# whether the engine agrees to.
EVILMOD = """
import os, pathlib

async def run(ctx, item=None):
    pathlib.Path(os.environ["MARKER"]).write_text("evil ran")
"""
GOODMOD = """
async def plan(ctx):
    ctx.add_task(work, "one")

async def work(ctx, item):
    ctx.log(f"good work on {item}")
"""


class Setup:
    """A cluster whose engines use ENGINE, a submitter config, and the marker file."""

    def __init__(self, cluster: Cluster) -> None:
        self.c = cluster
        tmp = cluster.tmp
        cluster.cfg.write_text(ENGINE)
        self.submitter = tmp / "submitter.toml"
        self.submitter.write_text(SUBMITTER)
        mods = tmp / "mods"
        mods.mkdir()
        (mods / "evilmod.py").write_text(EVILMOD)
        (mods / "goodmod.py").write_text(GOODMOD)
        self.marker = tmp / "marker"
        self.out = tmp / "out"
        self.env = {
            **FAST,
            "PYTHONPATH": f"{mods}{os.pathsep}{ROOT}",
            "MARKER": str(self.marker),
        }

    def engine(self, name: str = "e1", config: Path | None = None) -> None:
        self.c.start(name, kind="serve", env=self.env, config=config)

    def run(self, *args: str, config: Path | None = None) -> tuple[int, str, str]:
        from tests.conftest import run_cli

        r = run_cli(
            *args,
            "--db",
            str(self.c.db),
            "--config",
            str(config or self.submitter),
            env={"MARKER": str(self.marker)},
        )
        return r.returncode, r.stdout, r.stderr

    def no_marker(self) -> None:
        for p in (self.marker, Path(f"{self.out}.marker")):
            assert not p.exists(), f"{p} was created: the submitter's definition ran"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    c = Cluster(tmp_path)
    try:
        yield Setup(c)
    finally:
        c.close()


def jobs_of(s: Setup, type_name: str) -> int:
    """How many jobs of that type the store holds."""
    return sum(j.type == type_name for j in s.c.read(lambda store: store.list_jobs()))


def job_info(s: Setup, job: int) -> str:
    return str(s.c.job(job)["info"])


# ----------------------------------------------------------------- the hash


def test_the_hash_covers_what_runs_and_survives_publishing(tmp_path: Path) -> None:
    from dataclasses import replace

    from jobdash.core.catalogue import type_from_dict, type_to_dict

    path = tmp_path / "e.toml"
    path.write_text(ENGINE)
    jt = load_config(path).types["many"]
    digest = type_hash(jt)
    assert type_hash(type_from_dict(json.loads(json.dumps(type_to_dict(jt))))) == digest
    # Not what runs: how it is shown, where it was read, when it is scheduled.
    assert type_hash(replace(jt, description="x", source="y", schedule="cron: 1 * * * *")) == (
        digest
    )
    for changed in (
        replace(jt, command=("sh", "-c", "echo other-{item} >> {out}")),
        replace(jt, parallel=2),
        replace(jt, retries=1),
        replace(jt, items=None),
    ):
        assert type_hash(changed) != digest


# ----------------------------------------------------------------- (a) submitter's config


def test_a_type_the_engine_defines_otherwise_is_refused_at_submit(setup: Setup) -> None:
    setup.engine()
    code, out, err = setup.run("run", "x", "-p", f"out={setup.out}")
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("jobdash: "), err
    assert "type x" in err and "e1" in err and "differs" in err
    assert jobs_of(setup, "x") == 0
    time.sleep(1)
    setup.no_marker()
    assert not setup.out.exists()


def test_a_job_submitted_with_no_engine_waits_with_the_reason_and_never_runs(
    setup: Setup,
) -> None:
    code, out, err = setup.run("run", "x", "-p", f"out={setup.out}")
    assert code == 0, err  # no engine to ask: queued, the engine decides
    job = int(out.split()[1])
    setup.engine()
    until(lambda: "changed since submit" in job_info(setup, job), 15, "the reason shown")
    info = job_info(setup, job)
    submitted = type_hash(load_config(setup.submitter).types["x"])
    engine = type_hash(load_config(setup.c.cfg).types["x"])
    assert info.startswith("waiting: type x changed since submit"), info
    assert submitted[:12] in info and engine[:12] in info and "e1" in info
    assert setup.c.job(job)["status"] == "waiting"
    # Meanwhile the scheduler fires `tick` and admits its jobs: never this one.
    ticks = jobs_of(setup, "tick")
    until(lambda: jobs_of(setup, "tick") >= ticks + 2, 10, "two more ticks")
    assert setup.c.job(job)["status"] == "waiting"
    (task,) = setup.c.tasks(job).values()
    assert (task["status"], task["attempt"]) == ("pending", 0)
    setup.no_marker()
    assert not setup.out.exists()
    # What the dashboard and `show` say.
    code, out, _ = setup.run("show", str(job))
    assert code == 0 and "changed since submit" in out


def test_a_submitter_with_the_engines_config_runs_the_engines_command(setup: Setup) -> None:
    setup.engine()
    code, _, err = setup.run("run", "x", "-p", f"out={setup.out}", "--wait", config=setup.c.cfg)
    assert code == 0, err
    assert setup.out.read_text() == "engine\n"


def test_a_submitter_without_the_type_submits_the_engines_published_definition(
    setup: Setup,
) -> None:
    setup.engine()
    bare = setup.c.tmp / "bare.toml"
    bare.write_text("")
    code, _, err = setup.run("run", "x", "-p", f"out={setup.out}", "--wait", config=bare)
    assert code == 0, err
    assert setup.out.read_text() == "engine\n"


# ----------------------------------------------------------------- (b) a tampered row


def test_a_tampered_task_row_runs_the_engines_argv(setup: Setup) -> None:
    """The job the engine's own `run x` would make, its task row written with another argv
    by a store client."""
    jt = load_config(setup.c.cfg).types["x"]

    async def create() -> int:
        store = await open_store(str(setup.c.db))
        try:
            tampered = NewTask("main", "main", "command", ["touch", str(setup.marker)])
            nj = new_job("x", [tampered], params={"out": str(setup.out)}, type_hash=type_hash(jt))
            return (await store.create_job(nj)).id
        finally:
            await store.close()

    job = asyncio.run(create())
    setup.engine()
    until(lambda: setup.c.job(job)["status"] == "succeeded", 20, "job done")
    assert setup.out.read_text() == "engine\n"
    setup.no_marker()


# ----------------------------------------------------------------- (c) Python types


def test_a_python_type_defined_only_by_the_submitter_is_refused(setup: Setup) -> None:
    setup.engine()
    code, _, err = setup.run("run", "py")
    assert code == 2
    assert err.count("\n") == 1 and "engine e1 does not define type py" in err, err
    time.sleep(1)
    setup.no_marker()


def test_a_python_job_that_reaches_an_engine_without_its_type_never_runs(setup: Setup) -> None:
    code, out, err = setup.run("run", "py")
    assert code == 0, err
    job = int(out.split()[1])
    setup.engine()
    until(lambda: "does not define type py" in job_info(setup, job), 15, "the reason shown")
    assert job_info(setup, job) == "waiting: engine e1 does not define type py"
    time.sleep(1.5)
    setup.no_marker()
    assert setup.c.tasks(job)["main"]["attempt"] == 0


def test_a_python_task_row_naming_a_foreign_function_is_not_run(setup: Setup) -> None:
    """A task row of a type the engine defines, whose function is not of that type's module."""
    jt = load_config(setup.c.cfg).types["py-ok"]

    async def create() -> int:
        store = await open_store(str(setup.c.db))
        try:
            job = await store.create_job(
                new_job(
                    "py-ok",
                    [
                        NewTask("t1", "foreign", "function", "evilmod:run", "x"),
                        NewTask("t2", "good", "function", "goodmod:work", "y"),
                    ],
                    type_hash=type_hash(jt),
                )
            )
            return job.id
        finally:
            await store.close()

    job = asyncio.run(create())
    setup.engine()
    until(lambda: setup.c.job(job)["status"] == "failed", 20, "job done")
    tasks = setup.c.tasks(job)
    assert tasks["good"]["status"] == "succeeded"
    assert tasks["foreign"]["status"] == "failed"
    assert "evilmod:run is not a function of goodmod" in tasks["foreign"]["error"]
    setup.no_marker()


# ----------------------------------------------------------------- two engines


def test_two_engines_with_different_definitions_each_run_only_their_own(setup: Setup) -> None:
    """Eight tasks, four slots an engine: both would claim some if they could."""
    other = setup.c.tmp / "other.toml"
    other.write_text(ENGINE.replace("echo engine", "echo other"))
    setup.engine("e1")
    setup.engine("e2", config=other)
    for cfg, name, word in ((setup.c.cfg, "e1", "engine"), (other, "e2", "other")):
        out = setup.c.tmp / f"out-{name}"
        code, text, err = setup.run("run", "many", "-p", f"out={out}", config=cfg)
        assert code == 0, err
        job = int(text.split()[1])
        until(lambda j=job: setup.c.job(j)["status"] == "succeeded", 20, "job done")
        assert {t["agent"] for t in setup.c.tasks(job).values()} == {name}
        assert sorted(out.read_text().split()) == [f"{word}-{i}" for i in range(1, 9)]


# ----------------------------------------------------------------- demo


def test_demo_types_run_on_a_demo_engine_from_a_cli_and_an_attached_service(
    setup: Setup,
) -> None:
    """`jobdash serve --demo` and what an attached `jobdash --demo` dashboard does."""
    bare = setup.c.tmp / "bare.toml"
    bare.write_text("")
    # Slots for all at once: the demo's tasks sleep for real (seconds each), and a job
    # function queued behind them made "planned" take 20 s and more on a loaded machine.
    setup.c.start("demo", "--demo", "--slots", "64", kind="serve", env=FAST, config=bare)
    code, _, err = setup.run("run", "export-report", "--demo", config=bare)
    assert code == 0, err
    code, _, err = setup.run("run", "fix-permissions", config=bare)  # the published one
    assert code == 0, err

    from jobdash.core.service import Service
    from jobdash.demo import DEMO_JOBS, DEMO_TYPES

    async def attached() -> list[int]:
        svc = await Service.open(db=str(setup.c.db), config=str(bare), extra_types=DEMO_TYPES)
        try:
            assert await svc.engine_alive()
            return [(await svc.submit(t, p)).id for t, p in DEMO_JOBS]
        finally:
            await svc.close()

    jobs = asyncio.run(attached())

    def planned(job: int) -> bool:
        return bool(setup.c.q("SELECT 1 FROM tasks WHERE job_id = ? AND kind = 'function'", (job,)))

    # Every demo job's function ran in the engine and added its tasks; the second
    # archive-space job waits for the first (exclusive).
    until(lambda: all(planned(j) for j in jobs[:-1]), 30, "the demo jobs planned")
    # The first archive-space job's tasks take 3-7 s: on a loaded machine it may have ended
    # by now, and the second then runs; either way the second never started before it. The
    # second is read first: the first, read after it, has not ended if the second waited.
    second = setup.c.read(lambda store: store.get_job(jobs[-1]))
    first = setup.c.read(lambda store: store.get_job(jobs[-2]))
    if first.status.finished:
        assert second.started is None or second.started >= first.finished
    else:
        assert str(second.status) == "waiting"
    ran = {t.agent for t in setup.c.read(all_tasks) if t.agent is not None}
    assert ran == {"demo"}
