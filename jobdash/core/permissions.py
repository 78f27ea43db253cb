"""Who may do what: the one table of rules that decides every action of every user.

The `Service` asks `Rights` before it acts (and the dashboard asks it to grey out a key);
nothing else decides a permission. Three sources of a right, in this order:

1. an admin (`[jobdash] admins`, or on PostgreSQL a member of `jobdash_admin`) may do
   anything;
2. the user whose job it is may view, cancel, pause (and resume), retry and clear it
   (`Rule.owner`), and while the config defines no role anyone may start any job type
   (`Rule.everyone`): today's two levels, unchanged when there are no roles;
3. a role (`[roles.NAME]`) the user is a member of (by name, or through an OS group
   `@group` of the kernel's group database, never an environment variable) grants the
   rights it `can`, on the jobs of the types and targets it is limited to (`types`,
   `targets`: globs where `*` is any characters, `/` included, and `?` one; no limit: every
   type, every target). A role that may act on a job (cancel, pause, retry, clear) may see
   it too: one cannot act on what one cannot find.

Once the config defines a role, starting a job (`run`) needs a role that allows it for that
type and target (or being an admin): the point of the roles is to say who may run what.
A schedule's fires are the engine's, not a user's: they are not asked about.

What a user sees is one rule for every read (`Rights.seen`): the jobs, their failures, and
the history the dashboard's pictures count, all of the jobs `view` reaches; of the audit
trail, their own events and every event on such a job (`Rights.events_seen`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import NamedTuple

from jobdash.core.model import Refused

ACTIONS = ("view", "run", "cancel", "pause", "retry", "clear", "schedule", "drain")


class Rule(NamedTuple):
    """Who, besides an admin and a role that grants it, may take an action."""

    owner: bool  # the user whose job it is
    everyone: bool  # anyone, while the config defines no role
    scoped: bool  # it concerns a job type and target (a role's types and targets limit it)
    verb: str  # how a refusal says it


RULES: dict[str, Rule] = {
    "view": Rule(owner=True, everyone=False, scoped=True, verb="see"),
    "run": Rule(owner=False, everyone=True, scoped=True, verb="start"),
    "cancel": Rule(owner=True, everyone=False, scoped=True, verb="cancel"),
    "pause": Rule(owner=True, everyone=False, scoped=True, verb="pause or resume"),
    "retry": Rule(owner=True, everyone=False, scoped=True, verb="retry"),
    "clear": Rule(owner=True, everyone=False, scoped=True, verb="clear"),
    "schedule": Rule(owner=False, everyone=False, scoped=True, verb="change or run"),
    "drain": Rule(owner=False, everyone=False, scoped=False, verb="drain or undrain"),
}
# The rights that act on a job, each of which lets its holder see the job too.
ACTING = frozenset({"cancel", "pause", "retry", "clear"})
# Besides a user's own, the jobs of others a role lets them see: (type globs, target globs)
# pairs, each glob list empty for no limit (`*` any characters, `?` one).
Shared = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
# The actions a front end names, as the right each needs.
RIGHT_OF = {"kill": "cancel", "resume": "pause", "toggle": "pause", "rerun": "run"}


class Role(NamedTuple):
    """A config's `[roles.NAME]`: who is in it and what it allows, where."""

    name: str
    members: tuple[str, ...]  # user names, and "@group" for an OS group's members
    can: frozenset[str]
    types: tuple[str, ...] = ()  # globs of job type names; empty: every type
    targets: tuple[str, ...] = ()  # globs of job targets; empty: every target
    line: int | None = None  # where the config declares it

    def grants(self, action: str) -> bool:
        return action in self.can or (action == "view" and bool(self.can & ACTING))

    @property
    def unlimited(self) -> bool:
        return not self.types and not self.targets

    def covers(self, type_name: str, target: str) -> bool:
        """Whether a job of this type and target is within the role's limits."""
        return (not self.types or any(fnmatchcase(type_name, p) for p in self.types)) and (
            not self.targets or any(fnmatchcase(target, p) for p in self.targets)
        )

    def has_member(self, user: str, groups: frozenset[str]) -> bool:
        return any(m[1:] in groups if m.startswith("@") else m == user for m in self.members)


@dataclass(frozen=True)
class Rights:
    """What one user may do: an admin or not, the roles they are in, and whether the config
    defines any role (without roles, anyone may start any type)."""

    user: str
    admin: bool = False
    roles: tuple[Role, ...] = ()
    configured: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)

    def refusal(
        self, action: str, type_name: str = "", target: str = "", owner: str | None = None
    ) -> str | None:
        """Why the user may not take `action` (on a job of `owner`, or a new job or a
        schedule of this type and target), in a few words; None when they may."""
        rule = RULES[action]
        if self.admin or (rule.owner and owner == self.user):
            return None
        if rule.everyone and not self.configured:
            return None
        if any(
            r.grants(action) and (not rule.scoped or r.covers(type_name, target))
            for r in self.roles
        ):
            return None
        if not self.configured:
            return "only admins"
        return f"no right to {action}"

    def allows(
        self, action: str, type_name: str = "", target: str = "", owner: str | None = None
    ) -> bool:
        return self.refusal(action, type_name, target, owner) is None

    def check(
        self,
        action: str,
        thing: str,
        type_name: str = "",
        target: str = "",
        owner: str | None = None,
        what: str = "",
    ) -> None:
        """Refused, in one line naming the missing right, unless the user may take `action`
        on `thing` ("job 12", "schedule nightly", "agents"); `what`: the action's words in
        the refusal of a config without roles ("change a schedule")."""
        why = self.refusal(action, type_name, target, owner)
        if why is None:
            return
        verb = RULES[action].verb
        if not self.configured:
            whose = f"{owner}'s " if owner and owner != self.user else ""
            what = what or f"{verb} {whose}{thing}"
            raise Refused(f"only admins may {what} ({self.user} is not an admin)", why)
        where = f" ({type_name}{f' on {target}' if target else ''})" if type_name else ""
        mine = ", ".join(r.name for r in self.roles)
        roles = f"{self.user}'s roles: {mine}" if mine else f"{self.user} has no role"
        raise Refused(
            f"{self.user} may not {verb} {thing}{where}: no role allows {action} there ({roles})",
            why,
        )

    @property
    def sees_all(self) -> bool:
        """Whether every job is the user's to see (an admin, or a role without limits)."""
        return self.admin or any(r.grants("view") and r.unlimited for r in self.roles)

    def shared(self, action: str = "view") -> Shared:
        """Besides their own, the jobs of others the user may take `action` on, as (type
        globs, target globs) pairs (an empty tuple: no limit); meaningless when `sees_all`."""
        return tuple((r.types, r.targets) for r in self.roles if r.grants(action))

    @property
    def seen(self) -> tuple[str | None, Shared]:
        """What of the jobs, and of what is read by job (their failures, the history the
        pictures count), the user sees, as the store's filters take it: (None, ()) for
        everything, else their own user's and the jobs of others `shared` names."""
        return (None, ()) if self.sees_all else (self.user, self.shared("view"))

    @property
    def events_seen(self) -> tuple[str | None, Shared]:
        """What of the audit trail the user sees, as `seen`: everything for an admin; else
        the events they asked for, and every event on a job they may see (a role without
        limits sees every job's, but not another user's events on agents or schedules)."""
        return (None, ()) if self.admin else (self.user, self.shared("view"))


def rights_of(user: str, admin: bool, roles: tuple[Role, ...], groups: frozenset[str]) -> Rights:
    """The rights of `user` (in these OS groups) under the config's `roles`."""
    mine = tuple(r for r in roles if r.has_member(user, groups))
    return Rights(user, admin, mine, configured=bool(roles), groups=groups)
