"""The config's `[roles.NAME]` tables: who is in a role and what it allows (the rules
themselves are `core.permissions`'s). Checked whole when the config is read: a role that
names an unknown right, a malformed member or a pattern jobdash would not read the same in
every store is one line naming the file, the line and the key."""

from __future__ import annotations

from typing import Any

from jobdash.core.config.checks import Problem, as_str_list, check_keys, suggest
from jobdash.core.identity import MAX_NAME, USER_NAME
from jobdash.core.patterns import compiled
from jobdash.core.permissions import ACTIONS, Role
from jobdash.core.values import show

ROLE_KEYS = ("members", "can", "types", "targets")
# As text, compiled where a config's roles are read (`core.patterns`).
ROLE_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
GROUP_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?"


def role(name: str, table: dict[str, Any], line: int | None) -> Role:
    """One `[roles.NAME]` table, checked."""
    keys = ("roles", name)
    if not compiled(ROLE_NAME).fullmatch(name):
        raise Problem(keys, "a role's name is letters, digits and . _ - (at most 64)")
    check_keys(table, ROLE_KEYS, keys)
    for required, what in (("members", 'users, and OS groups as "@group"'), ("can", "rights")):
        if required not in table:
            raise Problem(keys, f"missing {required} ({what})")
    members = as_str_list(table["members"], (*keys, "members"))
    if not members:
        raise Problem((*keys, "members"), 'must name a user or an "@group"')
    for m in members:
        ok = (
            compiled(GROUP_NAME).fullmatch(m[1:])
            if m.startswith("@")
            else USER_NAME.fullmatch(m) and len(m) <= MAX_NAME
        )
        if not ok:
            raise Problem((*keys, "members"), f'{show(m)} is not a user name or an "@group"')
    can = as_str_list(table["can"], (*keys, "can"))
    if not can:
        raise Problem((*keys, "can"), f"must name a right ({', '.join(ACTIONS)})")
    for right in can:
        if right not in ACTIONS:
            raise Problem(
                (*keys, "can"), f"unknown right {show(right)} ({suggest(right, ACTIONS)})"
            )
    types = _patterns(table, keys, "types")
    targets = _patterns(table, keys, "targets")
    if "drain" in can and (types or targets):
        raise Problem(
            (*keys, "can"),
            '"drain" acts on agents, which have no type or target: '
            "grant it in a role without types and targets",
        )
    return Role(name, members, frozenset(can), types, targets, line)


def _patterns(table: dict[str, Any], keys: tuple[str, ...], key: str) -> tuple[str, ...]:
    if key not in table:
        return ()
    patterns = as_str_list(table[key], (*keys, key))
    if not patterns:
        raise Problem((*keys, key), "must not be empty (leave it out: no limit)")
    for p in patterns:
        if "[" in p or "]" in p:
            raise Problem((*keys, key), f"{show(p)}: patterns use * and ? only")
    return patterns
