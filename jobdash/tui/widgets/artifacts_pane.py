"""A job's artifacts on its details screen: a title and a small table (name, size, type, task,
where it is kept), out of the way (not shown) while the job has none. Cells come from
`present.artifacts`, as `jobdash artifacts` prints them; the table sanitizes them."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from jobdash.core.views import Artifact
from jobdash.present.artifacts import artifact_cells
from jobdash.present.words import plural
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn

COLUMNS = (
    TableColumn("name", 0, min_width=16, path=True),
    TableColumn("size", 9, "right"),
    TableColumn("type", 24),
    TableColumn("task", 5, "right"),
    TableColumn("kept", 0, min_width=12),
)
ROWS_SHOWN = 4  # the log keeps the room: more scroll


class ArtifactsPane(Vertical):
    """The artifacts of one job; `show` sets them."""

    DEFAULT_CSS: ClassVar[str] = """
    ArtifactsPane {
        height: auto;
        display: none;
        &.-shown { display: block; }
        #artifacts-title { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
        #artifacts-table { height: 2; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.artifacts: list[Artifact] = []

    def compose(self) -> ComposeResult:
        yield Label("artifacts", id="artifacts-title", markup=False)
        yield LineTable(
            COLUMNS, empty_text="No artifacts", drops=("kept", "task"), id="artifacts-table"
        )

    @property
    def table(self) -> LineTable:
        return self.query_one(LineTable)

    def show(self, artifacts: list[Artifact], keys: str) -> None:
        """Show these artifacts (`keys`: what opens and saves one, for the title)."""
        self.artifacts = artifacts
        self.set_class(bool(artifacts), "-shown")
        rows = []
        for a in artifacts:
            name, size, kind, task, kept = artifact_cells(a, None)
            rows.append(Row(a.name, (name, size, Cell(kind, "dim"), task, Cell(kept, "dim"))))
        self.table.set_rows(rows)
        self.table.styles.height = 1 + min(max(len(rows), 1), ROWS_SHOWN)  # the header too
        title = f"artifacts · {plural(len(artifacts), 'file')}  ({keys})"
        self.query_one("#artifacts-title", Label).update(title)

    def selected(self) -> Artifact | None:
        """The artifact under the cursor, else the first."""
        key = self.table.cursor_key
        for a in self.artifacts:
            if a.name == key:
                return a
        return self.artifacts[0] if self.artifacts else None
