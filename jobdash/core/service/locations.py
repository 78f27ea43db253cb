"""Where the store and the config are: `--db`, `--config`, their environment variables,
and the defaults in the user's folders.

Why apart: the command line needs these before any service exists (to say where the store
is, to read the config's time zone for a planning preview).
"""

from __future__ import annotations

import os
from pathlib import Path

from jobdash.core.config import Config, find_config_path, load_config
from jobdash.core.model import BadInput
from jobdash.core.store.base import check_ahead
from jobdash.present.times import local_zone_name


def default_db_path() -> Path:
    import platformdirs  # here: a store named by --db or JOBDASH_DB needs none

    try:
        return Path(platformdirs.user_data_dir("jobdash")) / "jobdash.db"
    except RuntimeError as e:  # no home folder (a uid without a passwd entry, HOME unset)
        raise BadInput(f"no default store: {e}; or give --db PATH") from None


def store_location(explicit: str | None) -> str:
    """The store to open: `--db`, JOBDASH_DB, else the default one in the user's data folder
    (a path or a store URL; `~` is the home folder)."""
    location = explicit or os.environ.get("JOBDASH_DB") or str(default_db_path())
    return location if "://" in location else str(Path(location).expanduser())


def check_store_ahead(explicit: str | None) -> None:
    """Start the whole-file check that opening the store (`--db`, …) for writing makes, in
    a thread, for `Service.open` to take over: the dashboard starts it before it loads its
    modules, which then cost no extra wait (see `store.base.check_ahead`). A location that
    cannot be told yet is left to `Service.open`, which says why in its turn."""
    try:
        location = store_location(explicit)
    except BadInput:
        return
    check_ahead(location)


def is_default_db(explicit: str | None) -> bool:
    """The store is the default one, whose folder jobdash may create."""
    return not (explicit or os.environ.get("JOBDASH_DB"))


def read_config(explicit: str | None) -> Config:
    """The config in force (`--config`, JOBDASH_CONFIG, ./jobdash.toml, the user's), checked:
    a bad file raises a one-line error before anything is opened."""
    return load_config(find_config_path(explicit))


def config_timezone(config: str | None) -> str:
    """The zone a schedule gets when none is given: the config's, else the machine's."""
    return read_config(config).timezone or local_zone_name()
