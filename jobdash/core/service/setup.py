"""Setting a store up: `jobdash db init [URL]` creates its schema, or brings it up to date
(idempotent: a store already up to date is left as it is). The same happens when a store is
first opened; the command does it on its own, before any engine or user comes (a PostgreSQL
server's administrator runs it once: it also makes the roles and row-level security of
several users). `jobdash db grant USER [--admin|--engine]` lets an OS user use a PostgreSQL
store, or makes the role an engine connects as; `jobdash db roles [URL]` writes the config's
permission groups into a PostgreSQL store, whose row-level security holds them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from jobdash.core.model import BadInput
from jobdash.core.service.locations import is_default_db, read_config, store_location
from jobdash.core.store.base import open_store
from jobdash.present.artifacts import store_size_lines

# Told a line before a store made by an older jobdash is upgraded (see `open_store`).
Upgrading = Callable[[str], None] | None


async def init_store(db: str | None, upgrading: Upgrading = None) -> str:
    """Create (or upgrade) the store at `db` (None: JOBDASH_DB, else the default one); what
    was done, in one line."""
    store = await open_store(
        store_location(db), create_folder=is_default_db(db), upgrading=upgrading
    )
    try:
        return store.created or f"store at {store.location} is up to date"
    finally:
        await store.close()


async def grant_user(db: str | None, user: str, kind: str, upgrading: Upgrading = None) -> str:
    """Give the OS user `user` a login role on the store at `db`, a member of the users', the
    admins' or the engines' role (`kind`: "user", "admin", "engine"); what was done, in one
    line."""
    store = await open_store(store_location(db), upgrading=upgrading)
    try:
        return await store.grant(user, kind)
    finally:
        await store.close()


async def write_roles(db: str | None, config: str | None, upgrading: Upgrading = None) -> str:
    """Write the config's roles into the store at `db` (PostgreSQL: what its row-level
    security asks; "@group" members resolved now from this host's group database)."""
    roles = read_config(config).roles
    store = await open_store(store_location(db), upgrading=upgrading)
    try:
        return await store.write_roles(roles)
    finally:
        await store.close()


async def store_size(db: str | None, as_json: bool = False, upgrading: Upgrading = None) -> str:
    """What the store at `db` takes: its database and its artifacts (held in it and kept as
    files beside it), as lines or a JSON object."""
    store = await open_store(store_location(db), reading=True, upgrading=upgrading)
    try:
        size = await store.store_size()
    finally:
        await store.close()
    if as_json:
        return json.dumps(
            {"store": store.location, **dataclasses.asdict(size), "total": size.total}
        )
    return "\n".join(store_size_lines(size, store.location))


async def db_command(
    action: str,
    arg: str | None,
    db: str | None,
    kind: str = "user",
    as_json: bool = False,
    config: str | None = None,
    upgrading: Upgrading = None,
) -> str:
    """`jobdash db init [URL]`, `jobdash db grant USER [--admin|--engine]` or `jobdash db size`
    (the store: --db; `kind`: see `grant_user`; `upgrading`: see `open_store`)."""
    if action == "size":
        return await store_size(arg or db, as_json, upgrading)
    if action == "roles":
        return await write_roles(arg or db, config, upgrading)
    if action == "grant":
        if not arg:
            raise BadInput("db grant: name the user (jobdash db grant USER [--admin|--engine])")
        return await grant_user(db, arg, kind, upgrading)
    return await init_store(arg or db, upgrading)
