"""The areas of a store that both backends take whole from `core/store/sql`, in one class:
each backend's store is its own areas (jobs, claims, reports, reads: where the SQL or the
way it runs differs) and these."""

from __future__ import annotations

from jobdash.core.store.sql.agents import Agents
from jobdash.core.store.sql.artifacts import Artifacts
from jobdash.core.store.sql.catalogue import Catalogue
from jobdash.core.store.sql.failures import Failures
from jobdash.core.store.sql.history import History
from jobdash.core.store.sql.marks import ReadMarks
from jobdash.core.store.sql.schedules import Schedules
from jobdash.core.store.sql.situation import Situations
from jobdash.core.store.sql.writer import BufferedStore


class SharedAreas(
    Agents,
    Catalogue,
    Situations,
    Schedules,
    History,
    Failures,
    Artifacts,
    ReadMarks,
    BufferedStore,
):
    """Agents, the catalogue, waits (and why one job waits), schedules, history, failures,
    artifacts, read marks, and the batched writes with the store's end (`BufferedStore`)."""
