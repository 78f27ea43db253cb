"""The suite's own long-lived processes (`start_serve`'s engine, a `Cluster`'s agents) end
with the pytest that started them, even one killed outright: `timeout` sends SIGKILL, which
runs no teardown, and an engine left behind holds its store and runs its schedules on a
machine that the next run shares. Each asks the kernel for SIGTERM at its parent's death
(`tests.conftest.ending_with`), and ends on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]

STARTERS = {
    "serve": """
        from tests.conftest import start_serve
        folder = Path(sys.argv[1])
        (folder / "jobdash.toml").write_text('[types.hello]\\ncommand = ["true"]\\n')
        proc = start_serve(
            folder / "serve.log", "--db", str(folder / "s.db"),
            "--config", str(folder / "jobdash.toml"),
        )
    """,
    "agent": """
        from tests.test_agents import Cluster
        proc = Cluster(Path(sys.argv[1])).start("a1")
    """,
}


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has ended: it only waits to be reaped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("kind", sorted(STARTERS))
def test_a_test_server_ends_with_the_pytest_killed_with_sigkill(tmp_path: Path, kind: str) -> None:
    code = "import sys, time\nfrom pathlib import Path\n" + textwrap.dedent(STARTERS[kind])
    code += "print(proc.pid, flush=True)\ntime.sleep(600)\n"
    starter = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE
    )
    server = 0
    try:
        assert starter.stdout is not None
        server = int(starter.stdout.readline())
        assert running(server)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 30
        while running(server):
            assert time.monotonic() < deadline, f"the {kind} outlived its starter"
            time.sleep(0.05)
    finally:
        starter.kill()
        if server and running(server):
            psutil.Process(server).kill()  # the orphan of a failed test
