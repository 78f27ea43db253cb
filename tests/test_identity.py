"""Who the user is comes from the kernel (the real uid), never from LOGNAME or USER; only
root may act as another user (JOBDASH_USER), and the audit names the real actor.

The users here are real: created with useradd, the CLI run as them in real processes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jobdash.core.store.base import open_store
from jobdash.core.views import AuditEvent
from tests.conftest import run_cli
from tests.os_users import OsUser, nameless_user, other_user

__all__ = ["nameless_user", "other_user"]  # fixtures

CONFIG = """
[jobdash]
admins = ["root"]

[types.hello]
command = ["true"]
"""
SPOOF = {"LOGNAME": "root", "USER": "root", "LNAME": "root", "USERNAME": "root"}


def audit_rows(db: Path) -> list[tuple[str, str, str, str]]:
    """(user, actor, action, target) of every audit event, oldest first, read from the store
    itself."""

    async def read() -> list[AuditEvent]:
        store = await open_store(str(db), reading=True)
        try:
            return await store.audit_events(limit=1_000_000)
        finally:
            await store.close()

    return [(e.user, e.actor, e.action, e.target) for e in reversed(asyncio.run(read()))]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_logname_root_gives_another_user_no_admin_rights(other_user: OsUser) -> None:
    u = other_user
    config = u.home / "jobdash.toml"
    config.write_text(CONFIG)
    db = u.home / "store.db"
    common = ("--db", str(db), "--config", str(config))
    first = u.run(*common, "run", "hello")  # creates the user's own store
    assert first.returncode == 0, first.stderr
    # Root works on the user's store too (root may open any store): its job is root's.
    assert run_cli(*common, "run", "hello").returncode == 0

    spoofed = u.run(*common, "run", "hello", env=SPOOF | {"JOBDASH_USER": "root"})
    assert spoofed.returncode == 0, spoofed.stderr
    listed = u.run(*common, "jobs", "--json", env=SPOOF)
    assert listed.returncode == 0, listed.stderr
    jobs = {j["id"]: j["user"] for j in json.loads(listed.stdout)}
    # Not an admin: root's job 2 is not shown, and its own jobs carry its own name.
    assert jobs == {3: u.name, 1: u.name}
    cleared = u.run(*common, "clear", "--all", env=SPOOF)
    assert cleared.returncode == 1
    assert f"only admins may clear every user's jobs ({u.name} is not an admin)" in cleared.stderr
    cancel = u.run(*common, "cancel", "2", env=SPOOF)
    assert cancel.returncode == 2 and "no job 2 among your jobs" in cancel.stderr

    rows = audit_rows(db)
    assert (u.name, u.name, "run", "job:3") in rows
    assert ("root", "root", "run", "job:2") in rows
    assert all(actor != "root" for user, actor, *_ in rows if user == u.name)


def test_root_acting_as_another_user_is_audited_as_both(tmp_path: Path) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "store.db"
    done = run_cli(
        "--db", str(db), "--config", str(config), "run", "hello", env={"JOBDASH_USER": "bob"}
    )
    assert done.returncode == 0, done.stderr
    listed = run_cli("--db", str(db), "--config", str(config), "jobs", "--json")
    assert [j["user"] for j in json.loads(listed.stdout)] == ["bob"]
    assert audit_rows(db) == [("bob", "root", "run", "job:1")]


def test_a_uid_without_a_passwd_entry_is_named_by_its_number(nameless_user: OsUser) -> None:
    u = nameless_user
    config = u.home / "jobdash.toml"
    config.write_text(CONFIG)
    common = ("--db", str(u.home / "store.db"), "--config", str(config))
    done = u.run(*common, "run", "hello")  # no LOGNAME, USER: the kernel's uid only
    assert done.returncode == 0, done.stderr
    listed = u.run(*common, "jobs", "--json")
    assert [j["user"] for j in json.loads(listed.stdout)] == [f"uid:{u.uid}"]
    # Its LOGNAME says nothing either.
    spoofed = u.run(*common, "jobs", "--json", env=SPOOF)
    assert [j["user"] for j in json.loads(spoofed.stdout)] == [f"uid:{u.uid}"]
    # Without a home folder there is no default store (nor config): one line, exit 2.
    homeless = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")
    done = u.run("jobs", unset=homeless)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("jobdash: no default store: ") and done.stderr.count("\n") == 1
    assert u.run(*common, "jobs", unset=homeless).returncode == 0


def test_root_may_act_only_as_a_well_formed_user_name(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    for name in ("\x1b]52;c;aGk=\x07", "a" * 65, "bob smith", "-rf", "x\ny"):
        done = run_cli("--db", str(db), "jobs", env={"JOBDASH_USER": name})
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        line = one_line(done.stderr)
        assert line.startswith("jobdash: JOBDASH_USER=") and "not a user name" in line
        assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    for name in ("alice", "svc-backup.01", "uid:1234", "MACHINE$", "ann@corp"):
        assert run_cli("--db", str(db), "jobs", env={"JOBDASH_USER": name}).returncode == 0
