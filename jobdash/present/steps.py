"""How a job type's finalize step is named, the same in `jobdash types`, `jobdash show` and
the dashboard's job details."""

from __future__ import annotations

import shlex

from jobdash.core.model import JobType


def finalize_text(jt: JobType | None) -> str:
    """A type's finalize step: its argv as a shell would read it, or "function
    module:attr"; "" when it has none (or the type is not known here)."""
    if jt is None or jt.finalize is None:
        return ""
    if isinstance(jt.finalize, str):
        return f"function {jt.finalize}"
    return shlex.join(jt.finalize)
