"""Two hosts on one PostgreSQL store: two network namespaces, each linked to this host by a
veth pair, a PostgreSQL server of the test's own listening on the host side of both links,
and a `jobdash agent` in each namespace with a host name of its own (`unshare --uts`).
The link of one is taken down mid-task (`ip link set … down` on the host side): the cut
agent stops its work just before its claims run out, and its tasks run on the other agent
within the recovery bound, never beside the first attempt; the link comes back: its late
results are rejected.

Needs root, `ip` (iproute2) and `unshare`: skipped without them, saying why, but in CI
(`CI=true`, where .ci/run runs as root), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.core.agent.options import POLL, RECOVER_EVERY
from jobdash.core.processes import group_alive
from tests.test_agents import Cluster, late_results_rejected, until

ROOT = Path(__file__).resolve().parents[1]
LEASE, HEARTBEAT = 3.0, 0.5
ENV = {"JOBDASH_LEASE": str(LEASE), "JOBDASH_HEARTBEAT": str(HEARTBEAT)}
# A cut-off agent's tasks run again at most this long after its last heartbeat (README,
# "Recovery bound"), and its last heartbeat was at most HEARTBEAT before the cut.
BOUND = LEASE + RECOVER_EVERY + POLL + HEARTBEAT

CONFIG = """
[jobdash]
admins = ["root"]

# Attempt 1: "quick" ends (succeeds) once the file `go` exists, "long" hangs; attempt 2 of
# both succeeds at once. Each attempt says on which host it ran.
[types.cut]
params.dir = { required = true }
items = ["quick", "long"]
command = ['sh', '-c', 'd={dir}; a=$JOBDASH_ATTEMPT; hostname > $d/{item}.$a.host; echo $$ > $d/{item}.$a; if [ $a = 1 ]; then if [ {item} = quick ]; then while [ ! -e $d/go ]; do sleep 0.1; done; exit 0; fi; sleep 300; fi; echo ok']
parallel = 2
retries = 1
"""


def _why_not() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing (apt-get install iproute2 util-linux)"
    probe = f"jdprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Hosts:
    """Network namespaces `jd<tag>a`, `jd<tag>b`…, each with a veth link to this host:
    10.<net>.<i>.1 on this side, 10.<net>.<i>.2 inside."""

    def __init__(self) -> None:
        self.tag = os.getpid() % 100000
        self.net = 100 + os.getpid() % 100
        self.made: list[str] = []

    def add(self, i: int) -> str:
        ns, here, there = f"jd{self.tag}n{i}", f"jd{self.tag}h{i}", f"jd{self.tag}p{i}"
        sh("ip", "netns", "add", ns)
        self.made.append(ns)
        sh("ip", "link", "add", here, "type", "veth", "peer", "name", there)
        sh("ip", "link", "set", there, "netns", ns)
        sh("ip", "addr", "add", f"{self.address(i)}/24", "dev", here)
        sh("ip", "link", "set", here, "up")
        sh("ip", "-n", ns, "addr", "add", f"10.{self.net}.{i}.2/24", "dev", there)
        sh("ip", "-n", ns, "link", "set", there, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def address(self, i: int) -> str:
        """This host's address on link `i`."""
        return f"10.{self.net}.{i}.1"

    def link(self, i: int, up: bool) -> None:
        sh("ip", "link", "set", f"jd{self.tag}h{i}", "up" if up else "down")

    def remove(self) -> None:
        for ns in self.made:  # its veth goes with it, and so does the peer on this side
            subprocess.run(["ip", "netns", "del", ns], check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    why = _why_not()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"two-hosts test: {why}; CI runs it as root")
        pytest.skip(f"two-hosts test: {why}")
    h = Hosts()
    try:
        yield h
    finally:
        h.remove()


@pytest.fixture
def server(hosts: Hosts, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A PostgreSQL server of this test's own, on the host side of two links (made here)
    and its socket: (the socket URL, the port)."""
    for i in (1, 2):
        hosts.add(i)
    folder = Path(f"/tmp/jd-pg2h-{os.getpid()}")
    port = free_port()
    env = {
        **os.environ,
        "JOBDASH_PG_PORT": str(port),
        "JOBDASH_PG_LISTEN": f"{hosts.address(1)},{hosts.address(2)}",
        "JOBDASH_PG_TRUST_NET": f"10.{hosts.net}.0.0/16",
    }
    started = subprocess.run(
        [str(ROOT / ".ci/postgres"), "start", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().split("=", 1)[1].strip("'")
        yield url, port
    finally:
        subprocess.run(
            [str(ROOT / ".ci/postgres"), "stop", str(folder)], env=env, check=False, cwd=ROOT
        )


@pytest.mark.slow
def test_a_host_cut_off_is_recovered_elsewhere_and_fenced_when_it_comes_back(
    tmp_path: Path, hosts: Hosts, server: tuple[str, int]
) -> None:
    url, port = server
    cluster = Cluster(tmp_path, url)
    cluster.cfg.write_text(CONFIG)
    d = tmp_path / "cut"
    d.mkdir()

    def agent(name: str, i: int) -> subprocess.Popen[bytes]:
        ns = f"jd{hosts.tag}n{i}"
        wrap = ["ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c"]
        wrap += ['hostname "$0" && exec "$@"', f"host-{name}"]
        remote = f"postgresql://root@{hosts.address(i)}:{port}/jobdash_test"
        return cluster.start(name, env=ENV, wrap=wrap, db=remote)

    try:
        a = agent("a", 1)
        job = cluster.run("cut", dir=str(d))
        until(lambda: (d / "quick.1").exists() and (d / "long.1").exists(), 30, "a runs both")
        long1 = int((d / "long.1").read_text())
        cluster.pids_to_kill.append(long1)
        agent("b", 2)
        listed = {x["name"]: x for x in json.loads(cluster.cli("agents", "--json").stdout)}
        assert {n: x["host"] for n, x in listed.items()} == {"a": "host-a", "b": "host-b"}
        assert [t["name"] for t in listed["a"]["tasks"]] == ["quick", "long"]

        hosts.link(1, up=False)
        cut = time.monotonic()
        (d / "go").touch()  # a's "quick" ends now, with no store to tell
        # a cannot renew its claim on "long": it stops that work just before the claim
        # runs out, so attempt 1 is gone before b can start attempt 2.
        until(lambda: not group_alive(long1), 30, "a to stop its attempt 1 of long, cut off")
        assert not (d / "long.2").exists(), "attempt 2 of long started beside attempt 1"
        until(lambda: (d / "quick.2").exists() and (d / "long.2").exists(), 60, "b runs both")
        recovered = time.monotonic() - cut
        until(lambda: cluster.job(job)["status"] == "succeeded", 30, "the job done by b")
        print(f"two hosts: recovered on b {recovered:.1f} s after the cut (bound {BOUND} s)")
        assert recovered < BOUND + 3  # a transaction, the processes starting: slack
        for name in ("quick", "long"):
            assert (d / f"{name}.1.host").read_text().strip() == "host-a"
            assert (d / f"{name}.2.host").read_text().strip() == "host-b"
        tasks = cluster.tasks(job)
        assert {n: (t["attempt"], t["agent"], t["exit_code"]) for n, t in tasks.items()} == {
            "quick": (2, "b", 0),
            "long": (2, "b", 0),
        }

        hosts.link(1, up=True)

        # Its connections come back (TCP retransmits): a's heartbeat finds both claims gone
        # and the store rejects both late results.
        late_results_rejected(cluster, job, "succeeded", 90)
        assert any("agent a could not renew its claim" in t for t in cluster.system_log(job))
        tasks = cluster.tasks(job)
        assert all(t["status"] == "succeeded" and t["attempt"] == 2 for t in tasks.values())
        j = cluster.job(job)
        assert (j["status"], j["succeeded"], j["failed"]) == ("succeeded", 2, 0)
        assert a.poll() is None, "a lives on after losing its claims"
    finally:
        cluster.close()
