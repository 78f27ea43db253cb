"""Real second OS users for tests of identity and store ownership.

A user is created with `useradd` (so the test must run as root: CI does) and removed
afterwards. The jobdash command line is then run as that user, in a real process whose uid,
gid and groups are that user's (`subprocess`'s user/group/extra_groups: setuid before exec),
with whatever environment the test gives it. The interpreter must be one the user can run:
this one if it is readable by everyone, else the system's Python of the same version with
this checkout and its packages on PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import jobdash

CHECKOUT = Path(jobdash.__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join(
    dict.fromkeys(
        [str(CHECKOUT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
)


@dataclass
class OsUser:
    """A user to run jobdash as: its uid, gid, name (None: no passwd entry) and a home
    folder of its own (mode 0700) holding its store and config."""

    uid: int
    gid: int
    name: str | None
    home: Path
    python: str

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        unset: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """`jobdash ARGS` as this user (a real process with this uid), in its home, with
        `env` added to its environment and `unset` taken out."""
        return self.command([self.python, "-m", "jobdash", *args], env, timeout, unset)

    def command(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        unset: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """`argv` as this user (see `run`)."""
        environ = {k: v for k, v in self.environ(env).items() if k not in unset}
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=environ,
            cwd=self.home,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            timeout=timeout,
            check=False,
        )

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A plain login-like environment (no variable of the test runner's user)."""
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "PYTHONPATH": PYTHONPATH,
            "LANG": "C.UTF-8",
        }
        if self.name is not None:
            env |= {"USER": self.name, "LOGNAME": self.name}
        return env | dict(extra or {})


def require_root() -> None:
    if os.geteuid() != 0:
        reason = "not root: a second OS user cannot be created (useradd) or run as"
        print(f"skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)


def home_of(uid: int, gid: int) -> Path:
    """A folder in the shared temp dir, owned by uid, mode 0700 (pytest's own tmp_path is
    root's and closed to others)."""
    home = Path(tempfile.mkdtemp(prefix=f"jobdash-u{uid}-"))
    os.chown(home, uid, gid)
    home.chmod(0o700)
    return home


def find_python(uid: int, gid: int, home: Path) -> str:
    """An interpreter that `uid` can run and that imports this checkout's jobdash."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, os.path.realpath(sys.executable)]
    candidates += [
        p for d in ("/usr/bin", "/usr/local/bin") if (p := shutil.which(version, path=d))
    ]
    for python in dict.fromkeys(candidates):
        try:
            probe = subprocess.run(
                [python, "-c", "import jobdash, aiosqlite, rich, platformdirs"],
                capture_output=True,
                env={"PYTHONPATH": PYTHONPATH, "PATH": "/usr/bin:/bin", "HOME": str(home)},
                cwd=home,
                user=uid,
                group=gid,
                extra_groups=[],
                check=False,
            )
        except OSError:  # not executable by that user (a folder on its path is closed)
            continue
        if probe.returncode == 0:
            return python
    reason = f"no Python that uid {uid} may run imports jobdash (tried {', '.join(candidates)})"
    print(f"skipped: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture
def other_user() -> Iterator[OsUser]:
    """A real OS user created for the test (useradd), removed afterwards."""
    with made_user(f"jdt{secrets.token_hex(4)}") as user:
        yield user


@contextlib.contextmanager
def made_user(name: str) -> Iterator[OsUser]:
    """A real OS user `name`, created (useradd) for the block and removed afterwards."""
    require_root()
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    home: Path | None = None
    try:
        pw = pwd.getpwnam(name)
        home = home_of(pw.pw_uid, pw.pw_gid)
        yield OsUser(pw.pw_uid, pw.pw_gid, name, home, find_python(pw.pw_uid, pw.pw_gid, home))
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def nameless_user() -> Iterator[OsUser]:
    """A uid with no passwd entry (as in a container run with `--user 54321`)."""
    require_root()
    uid = next(u for u in range(54321, 60000) if not _known(u))
    home = home_of(uid, uid)
    try:
        yield OsUser(uid, uid, None, home, find_python(uid, uid, home))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _known(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True
