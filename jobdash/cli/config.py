"""What the config defines: `types` (the job types `run` takes: the config's, and those
only the store's engines published, marked as theirs), `check` (validate the config file,
without opening a store) and `whoami` (the user, their roles and what they allow).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import out, print_json, safe
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.service import Service


async def cmd_whoami(svc: Service, a: argparse.Namespace) -> int:
    """`whoami`: the user (the kernel's, or the database's role), admin or not, their OS
    groups, the roles of the config they are in, and each right on what."""
    from jobdash.present.permissions import allowances

    rights = svc.rights
    allowed = allowances(rights)
    if a.json:
        print_json(
            {
                "user": rights.user,
                "admin": rights.admin,
                "groups": sorted(rights.groups),
                "roles": [
                    {
                        "name": r.name,
                        "can": sorted(r.can),
                        "types": list(r.types),
                        "targets": list(r.targets),
                        "line": r.line,
                    }
                    for r in rights.roles
                ],
                "roles_configured": rights.configured,
                "allows": allowed,
            }
        )
        return EXIT_OK
    admin = " (admin)" if rights.admin else ""
    out().print(safe(f"{rights.user}{admin}"))
    if rights.groups:
        out().print(safe(f"groups: {', '.join(sorted(rights.groups))}"))
    if rights.roles:
        out().print(safe(f"roles: {', '.join(r.name for r in rights.roles)}"))
    elif rights.configured:
        out().print("roles: none")
    else:
        out().print("roles: none configured")
    width = max(len(action) for action in allowed)
    for action, parts in allowed.items():
        out().print(safe(f"  {action:<{width}}  {'; '.join(parts) or 'no'}"))
    return EXIT_OK


async def cmd_types(svc: Service, a: argparse.Namespace) -> int:
    """`types`: every type `run` and the dashboard's new-job dialog take, each with where
    it is defined: the config in force (`--config`, else the usual places) at its file and
    line, and the types only the store's engines published (on another host, from their
    own config) marked "engine:", their file being the engine's, not one here. A type the
    config defines is listed as the config defines it."""
    from jobdash.cli.tables import listing, show_table

    types = sorted(svc.types.values(), key=lambda t: t.name)  # the config's win a name
    others = svc.types.keys() - svc.local_types.keys()  # published by engines only
    if a.json:
        print(
            json.dumps(
                [
                    dataclasses.asdict(t)
                    | {"defined_at": t.defined_at, "published": t.name in others}
                    for t in types
                ],
                indent=2,
            )
        )
        return EXIT_OK
    t = listing(
        "TYPE",
        "KIND",
        "PARAMS",
        "PARALLEL",
        "RETRIES",
        "FLAGS",
        "SCHEDULE",
        "DESCRIPTION",
        "DEFINED IN",
        fold=("PARAMS", "FLAGS", "DESCRIPTION", "DEFINED IN"),
    )
    for jt in types:
        params = " ".join(p.name + ("*" if p.required else "") for p in jt.params)
        flags = [
            f
            for f, on in (
                ("exclusive", jt.exclusive),
                ("not-cancellable", not jt.cancellable),
                ("finalize", jt.finalize is not None),
            )
            if on
        ]
        flags += [f"lock {k}" for k in jt.locks]
        t.add_row(
            safe(jt.name),
            "python" if jt.function else "command",
            safe(params),
            str(jt.parallel),
            str(jt.retries),
            safe(", ".join(flags)),
            safe(jt.schedule or ""),
            safe(jt.description),
            safe(f"engine: {jt.defined_at}" if jt.name in others else jt.defined_at),
        )
    show_table(t)
    return EXIT_OK


def cmd_check(a: argparse.Namespace) -> int:
    """`check`: the config alone; no store is opened (or created). Beyond the file's rules,
    what the engine would start here: each type's programs on PATH, its Python modules, and
    the web password's hash (`unrunnable`, `check_hash`)."""
    from jobdash.core.service import read_config, unrunnable

    cfg = read_config(a.config)
    where = str(cfg.path) if cfg.path else "no config file (defaults)"
    if cfg.keymap:
        from jobdash.cli.dashboard import check_keymap

        check_keymap(cfg.keymap, where)
    problem = unrunnable(cfg)
    if problem is not None:
        raise problem
    if cfg.web_password_hash is not None:
        from jobdash.web.auth import check_hash

        check_hash(cfg.web_password_hash, f"{cfg.path}: web.password_hash")
    if a.json:  # a bad file never gets here: it is one line on stderr and exit status 2
        print_json(
            {"config": str(cfg.path) if cfg.path else None, "ok": True, "types": sorted(cfg.types)}
        )
        return EXIT_OK
    n = len(cfg.types)
    out().print(
        safe(
            f"{where}: ok — {plural(n, 'job type')}"
            + (f": {', '.join(sorted(cfg.types))}" if n else "")
        )
    )
    return EXIT_OK


COMMANDS = {"types": cmd_types, "whoami": cmd_whoami}
