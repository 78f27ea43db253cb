"""Fixtures of the dashboard's tests that several modules use."""

from tests.tui.picture_harness import history_app, in_utc

__all__ = ["history_app", "in_utc"]
