"""What is said when a store made by an older jobdash is upgraded, by either backend: the
line before (the check and the upgrade take minutes on a store of millions of jobs, and a
silent minute looks like a hang), and the note after."""

from __future__ import annotations

__all__ = ["upgraded_line", "upgrading_line"]


def upgrading_line(where: str, version: int, newest: int, size: str = "") -> str:
    """Before: the store, its size where known, and the schemas. No time is promised: it
    depends on the migrations and the machine more than on the size (the index rebuilt by
    SQLite's migration 26 took 6-17 s per million finished jobs)."""
    made = f"{size}, made by an older jobdash" if size else "made by an older jobdash"
    return (
        f"upgrading the store {where} ({made}: schema {version}, this one's is {newest}): "
        "this may take a minute or more on a store of millions of jobs"
    )


def upgraded_line(version: int, newest: int, seconds: float) -> str:
    """After: how long it took (the check of the whole file included, for SQLite)."""
    return f"upgraded the store from schema {version} to {newest} in {seconds:.1f} s"
