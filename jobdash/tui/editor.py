"""Open a file at a line in the user's editor ($VISUAL, else $EDITOR, else vi), the
dashboard suspended meanwhile (Textual's `App.suspend`) and redrawn after. The editor is
the user's own program run as the user, with `+LINE` (understood by vi, vim, nano, emacs,
micro and most others). A dashboard in a browser cannot hand its terminal over: it says so.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from textual.app import App, SuspendNotSupported

__all__ = ["editor_argv", "open_in_editor"]


def editor_argv(path: Path, line: int | None) -> list[str]:
    """The command that opens `path` at `line` in the user's editor."""
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi") or ["vi"]
    return [*editor, *([f"+{line}"] if line else []), str(path)]


def open_in_editor(app: App[Any], path: Path, line: int | None) -> str:
    """Edit `path` at `line`; "" when the editor ran, else why it did not (one line)."""
    try:
        with app.suspend():
            subprocess.run(editor_argv(path, line), check=False)
    except SuspendNotSupported:
        return "editing a file needs the dashboard in a terminal, not in a browser"
    except (OSError, ValueError) as exc:  # no such editor; an unbalanced quote in $EDITOR
        return f"could not start the editor: {exc}"
    return ""
