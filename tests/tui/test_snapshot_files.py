"""Every stored picture belongs to a test: a picture under `snapshots/<module>/` whose test
was renamed or removed fails the suite, as syrupy's unused-snapshot check does in a run on
one process. That check is off under pytest-xdist (its workers do not pool what each one
used), and the suite runs on parallel workers (the README's test command, `-n 2`), so it
is made here.

The tests are found as pytest collects them (a separate `pytest --collect-only`, on the
test modules the folders name), whatever this run selected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "snapshots"


def test_every_stored_picture_is_a_collected_tests_own() -> None:
    folders = sorted(p for p in SNAPSHOTS.iterdir() if p.is_dir())
    assert folders, f"no pictures under {SNAPSHOTS}"
    modules = {f.name: sorted(ROOT.glob(f"tests/**/{f.name}.py")) for f in folders}
    missing = [name for name, found in modules.items() if len(found) != 1]
    assert not missing, f"snapshot folders naming no single test module: {missing}"
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
        ]
        + [str(found[0].relative_to(ROOT)) for found in modules.values()],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    tests = {
        (Path(path).stem, name)
        for line in collected.stdout.splitlines()
        if "::" in line
        for path, _, name in [line.partition("::")]
    }
    unused = [
        str(svg.relative_to(ROOT))
        for folder in folders
        for svg in sorted(folder.glob("*.svg"))
        if (folder.name, svg.stem) not in tests
    ]
    assert not unused, (
        f"pictures no test takes (remove them, or rename them with their test): {unused}"
    )
