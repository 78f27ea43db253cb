"""Who the user is: the kernel's answer, never an environment variable.

LOGNAME and USER are set by whoever starts the process, so anyone can claim to be root
with them (getpass.getuser() reads them first). The user is the name of the process's
real uid; a uid with no passwd entry (a container's `--user 1234`) is `uid:1234`. Only real
root may act as another user, with JOBDASH_USER (as `sudo -u` would); anyone else's
JOBDASH_USER is ignored.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
from collections.abc import Mapping

from jobdash.core.model import BadInput

MAX_NAME = 64
# POSIX portable user names, plus what directory services and Samba add ('@', a final '$'),
# and the `uid:N` form jobdash gives a uid without a name.
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?|uid:[0-9]+")


def user_name(uid: int) -> str:
    """The passwd name of `uid`, or `uid:N` when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def real_user() -> str:
    """The name of this process's real uid: who actually runs it (the audit's actor)."""
    return user_name(os.getuid())


def current_user(env: Mapping[str, str] | None = None) -> str:
    """The user jobdash acts for: the real user, or for root the JOBDASH_USER it names."""
    other = (os.environ if env is None else env).get("JOBDASH_USER")
    if other and os.getuid() == 0:
        return check_user_name(other, "JOBDASH_USER")
    return real_user()


def check_user_name(name: str, where: str) -> str:
    """`name` when it is a well-formed user name; BadInput naming `where` otherwise."""
    if len(name) > MAX_NAME or not USER_NAME.fullmatch(name):
        raise BadInput(
            f"{where}={name!r}: not a user name (letters, digits and . _ - @, at most "
            f"{MAX_NAME} characters)"
        )
    return name


def groups_of(user: str) -> frozenset[str]:
    """The OS groups `user` is in, by the system's group database (the primary group and
    the supplementary ones, as `id -Gn` says): what a role's `@group` member means. Empty
    for a name without a passwd entry. Never read from the environment."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return frozenset()
    try:
        gids = os.getgrouplist(user, entry.pw_gid)
    except OSError:
        gids = [entry.pw_gid]
    names = set()
    for gid in gids:
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return frozenset(names)


def group_members(group: str) -> list[str]:
    """The users of the OS group `group` by the system's databases: those it lists and those
    whose primary group it is (sorted; [] for a group that does not exist here)."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return []
    names = set(entry.gr_mem)
    names.update(p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.gr_gid)
    return sorted(names)
