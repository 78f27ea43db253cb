"""How a user's rights read (`jobdash whoami`, the dashboard's refusals): for each right
of `core.permissions`, on what the user has it, in words."""

from __future__ import annotations

from jobdash.core.permissions import ACTIONS, RULES, Rights, Role


def scope(role: Role) -> str:
    """What a role's limits cover: "import-* on /srv/finance/*", "every job"."""
    types = ", ".join(role.types) if role.types else ""
    targets = ", ".join(role.targets) if role.targets else ""
    if types and targets:
        return f"{types} on {targets}"
    if types:
        return types
    return f"any type on {targets}" if targets else "every job"


def allowance(rights: Rights, action: str) -> list[str]:
    """On what the user has `action`, each source in a few words; [] when nowhere."""
    if rights.admin:
        return ["everything (admin)"]
    rule = RULES[action]
    parts = []
    if rule.owner:
        parts.append("own jobs")
    if rule.everyone and not rights.configured:
        parts.append("every type (no roles configured)")
    for role in rights.roles:
        if role.grants(action):
            where = scope(role) if rule.scoped else "yes"
            parts.append(f"{where} (role {role.name})")
    return parts


def allowances(rights: Rights) -> dict[str, list[str]]:
    """`allowance` of every right, in the table's order."""
    return {action: allowance(rights, action) for action in ACTIONS}
