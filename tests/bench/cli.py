"""How long the command line takes to start, and a shell's TAB: run by hand, not by pytest.

    python tests/bench/cli.py [--runs N] [--python OTHER/.venv/bin/python …]

Each command runs in a fresh process, the interpreters given (this one first) one after the
other for every run (interleaved, so that the machine's load falls on each alike); the
median and the range of the wall-clock times are printed per command and interpreter. The
store is a fresh SQLite file with 200 queued jobs (no engine runs them), beside an empty one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = '[types.hello]\ncommand = ["echo", "hello"]\n'
COMMANDS = {
    "--help": ["--help"],
    "jobs (empty store)": ["--db", "{tmp}/empty.db", "jobs"],
    "jobs (200 jobs)": ["jobs"],
    "TAB: commands": ["__complete", "bash", "jobdash sch", "sch"],
    "TAB: job ids": ["__complete", "bash", "jobdash show ", ""],
}
NEW_ONLY = {"TAB: commands", "TAB: job ids"}  # the previous main has no completion


def timed(python: str, args: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    # Not run in the checkout: `-m jobdash` would import its jobdash, not the interpreter's.
    subprocess.run(
        [python, "-m", "jobdash", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--python", action="append", default=[], help="another interpreter")
    a = p.parse_args()
    pythons = [sys.executable, *a.python]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "jobdash.toml"
        config.write_text(CONFIG)
        env = {**os.environ, "JOBDASH_DB": f"{tmp}/s.db", "JOBDASH_CONFIG": str(config)}
        env.pop("NO_COLOR", None)
        subprocess.run(
            [sys.executable, "-m", "jobdash", "run", "hello", "--params-from", "-"],
            input="{}\n" * 200,
            text=True,
            env=env,
            capture_output=True,
            check=True,
        )
        # The empty store exists before the first timed run (which would create it).
        subprocess.run(
            [sys.executable, "-m", "jobdash", "--db", f"{tmp}/empty.db", "jobs"],
            env=env,
            cwd=tmp,
            capture_output=True,
            check=True,
        )
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(a.runs):
            for name, args in COMMANDS.items():
                for n, python in enumerate(pythons):
                    if n and name in NEW_ONLY:
                        continue
                    times.setdefault((name, python), []).append(
                        timed(python, [x.replace("{tmp}", tmp) for x in args], env, tmp)
                    )
    for (name, python), found in times.items():
        print(
            f"{name:18} {python:45} median {statistics.median(found) * 1000:6.0f} ms "
            f"({min(found) * 1000:.0f}–{max(found) * 1000:.0f})"
        )


if __name__ == "__main__":
    main()
