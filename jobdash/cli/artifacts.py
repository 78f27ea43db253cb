"""A job's outputs: `artifacts JOB [--json]` lists them, `artifact JOB NAME [-o FILE|-]` writes
one (its bytes as they are, into a file created 0600; on a terminal only text, made inert).

A job or an artifact that is not there is bad input here (one line, exit status 2): these
commands read, and the name given is what is wrong.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import out, print_json, safe, tell
from jobdash.core.model import BadInput
from jobdash.present.artifacts import COLUMNS, artifact_cells, artifact_dict
from jobdash.present.sizes import size_text
from jobdash.present.text import sanitize_lines

if TYPE_CHECKING:
    from jobdash.core.service import Service

TERMINAL_TEXT_MAX = 16 * 1024 * 1024  # bytes of a text artifact printed on a terminal


async def cmd_artifacts(svc: Service, a: argparse.Namespace) -> int:
    found = await svc.artifacts(a.job)  # NotFound: exit 2 (`main.unknown`)
    folder = svc.artifact_folder
    if a.json:
        print_json([artifact_dict(x, folder) for x in found])
        return EXIT_OK
    if not found:
        tell(f"job {a.job} has no artifacts")
        return EXIT_OK
    from jobdash.cli.tables import listing, show_table

    t = listing(
        *(c.upper() for c in COLUMNS), flex=("NAME", "KEPT"), drop=("KEPT", "TASK"), paths=("NAME",)
    )
    for x in found:
        t.add_row(*(safe(cell) for cell in artifact_cells(x, folder)))
    show_table(t)
    return EXIT_OK


async def cmd_artifact(svc: Service, a: argparse.Namespace) -> int:
    from jobdash.core.service import is_text

    target = a.output or "-"
    # NotFound (no such job, or artifact of that name): exit 2 (`main.unknown`).
    if target == "-" and out().is_terminal:
        # A terminal acts on what it is sent: text only, its escapes made visible.
        found, content = await svc.open_artifact(a.job, a.name)
        with content:
            if not is_text(found.media_type) or found.size > TERMINAL_TEXT_MAX:
                raise BadInput(
                    f"artifact {a.name!r} is {found.media_type}, {size_text(found.size)}: "
                    "give -o FILE, or pipe it"
                )
            text = content.read().decode("utf-8", "replace")
        sys.stdout.write(sanitize_lines(text))
        return EXIT_OK
    found = await svc.save_artifact(a.job, a.name, target)
    if target != "-":
        tell(f"artifact {found.name} ({size_text(found.size)}) written to {target}")
    return EXIT_OK


COMMANDS = {"artifacts": cmd_artifacts, "artifact": cmd_artifact}
