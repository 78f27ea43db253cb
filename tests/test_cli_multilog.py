"""`jobdash logs` of several jobs at once (`logs 1 2 3`, `logs --query …`), in real
processes: a real engine (`jobdash serve`) runs three jobs of three tasks each that print
side by side, while `jobdash logs -f` follows them from a pipe.

What matters: every line of every task is printed exactly once, in the order its task
printed it, each with its job and task; following ends by itself once all three jobs have
ended; job output stays data (no markup, no escapes) with a colour per job only on request.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli, start_serve

LINES = 150  # lines each task prints on stdout, then one warning on stderr
TASKS = ("a", "b", "c")

# Each task prints LINES numbered lines, a few at a time, then a warning: three of them side
# by side in each job, three jobs side by side (9 slots).
CONFIG = f"""\
[types.burst]
command = ["{sys.executable}", "-c", '''
import sys, time
for i in range({LINES}):
    print(sys.argv[1], i, flush=True)
    if i % 10 == 0:
        time.sleep(0.02)
print("warning: done", sys.argv[1], file=sys.stderr, flush=True)
''', "{{item}}"]
items = {list(TASKS)!r}
parallel = 3

[types.markup]
command = ["printf", '[bold red]x[/] \\033[31mred\\033[0m\\n']
"""

PREFIX = re.compile(r"^(\d+) #(\d) (\w)\s* \| (.*)$")


@pytest.fixture
def env(store_location: str, write_config: Callable[[str], Path]) -> dict[str, str]:
    return {"JOBDASH_DB": store_location, "JOBDASH_CONFIG": str(write_config(CONFIG))}


@pytest.fixture
def engine(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[[], None]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(start_serve(tmp_path / "serve.log", "--slots", "9", env=env))

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(10)


def submit(env: dict[str, str], type_: str = "burst") -> int:
    done = run_cli("run", type_, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["id"])


def by_task(stdout: str) -> dict[tuple[int, str], list[str]]:
    """Each (job, task)'s texts, in the order printed; every line must carry a prefix."""
    seen: dict[tuple[int, str], list[str]] = {}
    for line in stdout.splitlines():
        m = PREFIX.match(line)
        assert m is not None, f"no job/task prefix: {line!r}"
        seen.setdefault((int(m[1]), m[3]), []).append(m[4])
    return seen


def expected(item: str) -> list[str]:
    return [f"{item} {i}" for i in range(LINES)] + [f"warning: done {item}"]


@pytest.mark.both_backends
def test_follow_of_three_running_jobs_prints_every_line_once_in_order_per_task(
    env: dict[str, str], engine: Callable[[], None]
) -> None:
    ids = [submit(env) for _ in range(3)]
    # Following starts before any job runs, from a pipe, and must end by itself.
    follow = subprocess.Popen(
        [sys.executable, "-m", "jobdash", "logs", "-f", *map(str, ids)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    engine()
    stdout, stderr = follow.communicate(timeout=120)
    assert follow.returncode == 0, stderr
    # It ended because they did: all three are finished now.
    jobs = json.loads(run_cli("jobs", "--json", env=env).stdout)
    assert {j["id"]: j["status"] in ("succeeded", "warning") for j in jobs} == dict.fromkeys(
        ids, True
    )
    assert "\x1b" not in stdout  # piped: a plain prefix, no colour
    seen = by_task(stdout)
    assert seen == {(job, item): expected(item) for job in ids for item in TASKS}
    assert len(stdout.splitlines()) == 3 * len(TASKS) * (LINES + 1)
    # They ran side by side, and the stream shows it: the jobs' lines interleave.
    order = [int(PREFIX.match(line)[1]) for line in stdout.splitlines()]  # type: ignore[index]
    switches = sum(a != b for a, b in itertools.pairwise(order))
    assert switches > 10, "the three jobs' lines were not interleaved"

    # Without -f, the same lines of each task, all in the order they were written; by
    # query too.
    again = run_cli("logs", *map(str, ids), env=env)
    assert again.returncode == 0, again.stderr
    assert by_task(again.stdout) == seen
    query = run_cli("logs", "--query", "type:burst", env=env)
    assert query.stdout == again.stdout
    as_json = run_cli("logs", "--json", *map(str, ids), env=env)
    seqs = [json.loads(line)["seq"] for line in as_json.stdout.splitlines()]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == len(stdout.splitlines())
    # --tail N: the last N lines of each job, still prefixed.
    tail = run_cli("logs", "--tail", "2", *map(str, ids), env=env)
    assert sorted(PREFIX.match(line)[1] for line in tail.stdout.splitlines()) == sorted(  # type: ignore[index]
        str(job) for job in ids for _ in range(2)
    )


def test_several_jobs_bad_input_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    one, two = submit(env, "markup"), submit(env, "markup")
    for args, said in (
        ((str(one), "999"), "no job 999"),
        ((str(one), str(two), "--task", "1"), "--task N is a task of one job"),
        ((str(one), "--query", "type:markup"), "not both"),
        (("--query", " "), "--query is empty"),
        ((), "give one or more job ids"),
        (("--query", "colour:red"), "colour"),
    ):
        done = run_cli("logs", *args, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and said in done.stderr, done.stderr
        assert done.stdout == ""
    none = run_cli("logs", "-f", "--query", "type:nothing-like-this", env=env)
    assert none.returncode == 0
    assert "no jobs match" in none.stderr and none.stdout == ""


def test_several_jobs_output_stays_data_coloured_per_job_only_on_a_request(
    env: dict[str, str], engine: Callable[[], None]
) -> None:
    ids = [submit(env, "markup") for _ in range(3)]
    engine()
    follow = run_cli("logs", "-f", *map(str, ids), env=env, timeout=60)
    assert follow.returncode == 0, follow.stderr
    # Markup as written, escapes as visible stand-ins, a plain prefix: piped, no colour.
    shown = [f"{job} #1 markup | [bold red]x[/] ␛[31mred␛[0m" for job in ids]
    assert sorted(follow.stdout.splitlines()) == sorted(shown)
    plain = run_cli("logs", *map(str, ids), env={**env, "NO_COLOR": "1"})
    assert plain.stdout == follow.stdout
    coloured = run_cli("logs", *map(str, ids), "--color", "always", env=env)
    colours = []
    for line in coloured.stdout.splitlines():
        m = re.match(r"^\x1b\[(\d+)m(\d+) #1 markup \| \x1b\[0m\[bold red\]x\[/\] ␛\[31mred", line)
        assert m is not None, repr(line)
        colours.append((int(m[2]), m[1]))
    assert len({colour for _, colour in colours}) == 3  # one colour per job
    # Saved: a line each with its job and task.
    saved = run_cli("logs", *map(str, ids), "-o", "all.log", env=env)
    assert saved.returncode == 0, saved.stderr
    assert "3 lines of 3 jobs written to all.log" in saved.stderr
    path = Path("all.log")
    assert path.stat().st_mode & 0o777 == 0o600
    rows = sorted(line.split("\t")[1:] for line in path.read_text().splitlines())
    # The file keeps what each job printed, exactly (it is not a terminal).
    assert rows == sorted(
        [f"{job} #1 markup", "stdout", "[bold red]x[/] \x1b[31mred\x1b[0m"] for job in ids
    )


def test_following_with_no_engine_says_so_once_and_goes_on(env: dict[str, str]) -> None:
    """A job followed while no engine runs never moves: `logs -f` says so on stderr, once,
    and keeps following (an engine may start)."""
    job = submit(env)  # queued: no engine takes it
    follow = subprocess.Popen(
        [sys.executable, "-m", "jobdash", "logs", "-f", str(job)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            follow.communicate(timeout=12)  # still following: an engine may come
    finally:
        follow.kill()
        _, stderr = follow.communicate(timeout=30)
    assert stderr.count("no engine is running") == 1, stderr
    assert "start one with `jobdash serve` (still following)" in stderr


def test_each_hue_of_a_job_has_its_colour() -> None:
    """`present.logs` gives each job of a stream one of JOB_HUES hues; the command line
    colours each hue (`render.JOB_STYLES`): as many colours as hues, none repeated."""
    from jobdash.cli.render import JOB_STYLES
    from jobdash.present.logs import JOB_HUES

    assert len(set(JOB_STYLES)) == len(JOB_STYLES) == JOB_HUES
