"""Fixtures of the dashboard's tests that several modules use: the dashboard's store
(app_harness's jobs 1–9: `config`, `db`) and the services opened on it (`open_service`),
and the pictures' history (picture_harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.service import Service
from tests.tui.app_harness import build_store, write_config
from tests.tui.picture_harness import history_app, in_utc

__all__ = ["config", "db", "history_app", "in_utc", "open_service"]

Open = Callable[..., Awaitable[Service]]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def db(tmp_path: Path, config: Path) -> Path:
    path = tmp_path / "app.db"
    build_store(path, config)
    return path


@pytest.fixture
async def open_service(db: Path, config: Path) -> AsyncIterator[Open]:
    opened: list[Service] = []

    async def open_(
        user: str = "alice", read_only: bool = False, cfg: Path | None = None
    ) -> Service:
        svc = await Service.open(
            db=str(db), config=str(cfg or config), user=user, read_only=read_only
        )
        opened.append(svc)
        return svc

    yield open_
    for svc in reversed(opened):
        await svc.close()
