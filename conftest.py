"""Root pytest configuration: snapshot pictures live in the repo's top-level `snapshots/`.

pytest-textual-snapshot's `snap_compare` fixture hard-codes its SVG extension, whose
`dirname` puts pictures next to the tests (`__snapshots__`). We override the fixture
with the same comparison, an extension that stores under `snapshots/<test module>/`,
and one addition: a snapshot test fails if the app raised, even when a picture came out.
"""

from __future__ import annotations

import inspect
import os
import pickle
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import (
    PseudoApp,
    PseudoConsole,
    SVGImageExtension,
    node_to_report_path,
)
from rich.console import Console
from syrupy import SnapshotAssertion
from textual.app import App
from textual.pilot import Pilot

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"

# Both change every picture: a developer's shell must not decide what a snapshot shows.
for _name in ("NO_COLOR", "TEXTUAL_THEME"):
    os.environ.pop(_name, None)


class JobdashSVGExtension(SVGImageExtension):
    """SVG snapshots under `snapshots/<test module>/<test name>.svg`."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOTS / test_location.basename)


@pytest.fixture(autouse=True)
def _no_colour_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)


@pytest.fixture
def snap_compare(
    snapshot: SnapshotAssertion, request: pytest.FixtureRequest
) -> Callable[..., bool]:
    """Like pytest-textual-snapshot's, storing under `snapshots/`, failing if the app raised."""
    snapshot = snapshot.use_extension(JobdashSVGExtension)

    def compare(
        app: App[Any],
        press: Iterable[str] = (),
        terminal_size: tuple[int, int] = (80, 24),
        run_before: Callable[[Pilot[Any]], Awaitable[None] | None] | None = None,
    ) -> bool:
        from textual._doc import take_svg_screenshot

        assert isinstance(app, App), "pass an App instance"
        try:
            actual = take_svg_screenshot(
                app=app, press=press, terminal_size=terminal_size, run_before=run_before
            )
        except AssertionError:
            if app._exception is not None:  # no picture: the app crashed
                raise app._exception from None
            raise
        if app._exception is not None:
            pytest.fail(f"the app raised {app._exception!r} (see the traceback above)")
        if app.return_code not in (None, 0):
            pytest.fail(f"the app exited with status {app.return_code}")

        result = snapshot == actual

        # The same report data as the plugin's own fixture, for its HTML diff report.
        execution_index = (
            snapshot._custom_index and snapshot._execution_name_index.get(snapshot._custom_index)
        ) or snapshot.num_executions - 1
        assertion_result = snapshot.executions.get(execution_index)
        exists = bool(
            execution_index in snapshot.executions
            and assertion_result
            and assertion_result.final_data is not None
        )
        console = Console(legacy_windows=False, force_terminal=True)
        node = request.node
        full_path, line_number, name = node.reportinfo()
        data = (
            result,
            str(snapshot),
            actual,
            PseudoApp(PseudoConsole(console.legacy_windows, console.size)),
            full_path,
            line_number,
            name,
            inspect.getdoc(node.function) or "",
            "",
            exists,
        )
        node_to_report_path(node).write_bytes(pickle.dumps(data))
        return result

    return compare
