"""What the artifact keys do on a job's details (`ArtifactKeys`): `o` opens the artifact under
the cursor (text in `$PAGER`, the dashboard suspended meanwhile; anything else: where to
save it), `O` saves it to a chosen path. In a browser (`jobdash web`) both download it
through the page (Textual's `App.deliver_binary`): a browser session's process has no
terminal to hand to a pager, and its files would land on the server.

What the pager is given is made inert first (`sanitize_lines`): a `PAGER="less -R"` must
not act on an escape in a job's output. The saved file is written by `open_output`'s rules
(0600, replaced atomically, the bytes as kept, checked against their checksum).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

from textual import work
from textual.app import App, SuspendNotSupported

from jobdash.core.service import Service, is_text
from jobdash.core.views import Artifact
from jobdash.present.sizes import size_text
from jobdash.present.text import sanitize_lines
from jobdash.tui.actions import ACTION_ERRORS, refuse

__all__ = ["PAGER_TEXT_MAX", "ArtifactKeys", "pager_argv", "show_in_pager"]

PAGER_TEXT_MAX = 64 * 1024 * 1024  # bytes of a text artifact given to the pager


def pager_argv() -> list[str]:
    """The user's pager ($PAGER, else less)."""
    return shlex.split(os.environ.get("PAGER") or "less") or ["less"]


def show_in_pager(app: App[Any], text: str) -> str:
    """Show `text` (made inert) in the user's pager; "" when it ran, else why not."""
    data = sanitize_lines(text).encode("utf-8", "replace")
    try:
        with app.suspend():
            subprocess.run(pager_argv(), input=data, check=False)
    except SuspendNotSupported:
        return "a pager needs the dashboard in a terminal"
    except (OSError, ValueError) as exc:  # no such pager; an unbalanced quote in $PAGER
        return f"could not start the pager: {exc}"
    return ""


class ArtifactKeys:
    """`o` and `O` on the artifact a screen shows (`selected_artifact`)."""

    app: Any
    service: Service

    def selected_artifact(self) -> Artifact | None:
        raise NotImplementedError

    def action_open_artifact(self) -> None:
        """Open the artifact: text in the pager, else save it (in a browser: download)."""
        if (a := self.selected_artifact()) is not None:
            self._open(a, save=False)

    def action_save_artifact(self) -> None:
        """Save the artifact to a path you choose (in a browser: download it)."""
        if (a := self.selected_artifact()) is not None:
            self._open(a, save=True)

    def _open(self, a: Artifact, save: bool) -> None:
        if self.app.is_web:
            self._download(a)
        elif save or not is_text(a.media_type) or a.size > PAGER_TEXT_MAX:
            from jobdash.tui.dialogs.save_artifact import SaveArtifactScreen

            def chosen(path: str | None) -> None:
                if path:
                    self._save(a, path)

            self.app.push_screen(SaveArtifactScreen(a), chosen)
        else:
            self._page(a)

    @work(group="artifact", exclusive=True)
    async def _page(self, a: Artifact) -> None:
        try:
            _, content = await self.service.open_artifact(a.job_id, a.name)
            with content:
                text = content.read().decode("utf-8", "replace")
        except ACTION_ERRORS as exc:
            refuse(self.app, exc)
            return
        if why := show_in_pager(self.app, text):
            self.app.notify(why, severity="error", markup=False)

    @work(group="artifact", exclusive=True)
    async def _save(self, a: Artifact, path: str) -> None:
        try:
            found = await self.service.save_artifact(a.job_id, a.name, os.path.expanduser(path))
        except ACTION_ERRORS as exc:
            refuse(self.app, exc)
            return
        self.app.notify(
            sanitize_lines(f"Saved {found.name} ({size_text(found.size)}) to {path}"),
            title="Artifact saved",
            markup=False,
        )

    @work(group="artifact", exclusive=True)
    async def _download(self, a: Artifact) -> None:
        try:
            found, content = await self.service.open_artifact(a.job_id, a.name)
        except ACTION_ERRORS as exc:
            refuse(self.app, exc)
            return
        # The browser is handed the bytes a chunk at a time, as it asks (the file is closed
        # once delivered); the name is only the download's name (it holds no `/`).
        self.app.deliver_binary(
            content, save_filename=found.name, mime_type=found.media_type, name="artifact"
        )
        self.app.notify(
            sanitize_lines(f"Downloading {found.name} ({size_text(found.size)})"),
            markup=False,
        )
