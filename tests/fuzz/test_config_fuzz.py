"""The config fuzzer (hypothesis; derandomized, so every run tries the same examples): files
near a valid config (tests/fuzz/configs.py) either load or raise the one-line ConfigError,
never anything else; what loads can run (its numbers in bounds, its plannings give fire
times in any zone); and the real `jobdash check` agrees, exits 0 or 2, and prints no
traceback. `python tests/fuzz/config_fuzz.py` runs the same check on 100,000 examples."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobdash.core.config import Config
from jobdash.core.config.runnable import unrunnable
from jobdash.core.model import BadInput
from jobdash.core.planning import PlanningError
from jobdash.web.auth import check_hash
from tests.fuzz.configs import check_planning, config_files, load_one, plannings

EXAMPLES = 2000


def repeatable(examples: int) -> settings:
    """The same examples every run (CI repeatable), no deadline (a loaded machine)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-fuzz")


def test_fuzzed_configs_load_or_fail_with_one_line(folder: Path) -> None:
    outcomes: Counter[str] = Counter()

    @repeatable(EXAMPLES)
    @given(config_files())
    def one(data: bytes) -> None:
        outcomes["loaded" if load_one(data, folder / "jobdash.toml") else "refused"] += 1

    one()
    # Not vacuous: most examples ran, and both outcomes are common.
    assert sum(outcomes.values()) >= EXAMPLES
    assert outcomes["loaded"] >= EXAMPLES // 20 and outcomes["refused"] >= EXAMPLES // 4, outcomes


def test_fuzzed_plannings_parse_or_fail_and_then_give_fire_times() -> None:
    outcomes: Counter[str] = Counter()

    @repeatable(EXAMPLES)
    @given(plannings())
    def one(text: str) -> None:
        try:
            check_planning(text)
        except PlanningError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
        else:
            outcomes["parsed"] += 1

    one()
    # Hypothesis soon runs out of new short plannings that parse; the odd ones are endless.
    assert outcomes["parsed"] >= 50 and outcomes["refused"] >= EXAMPLES // 2, outcomes


def runs_here(config: Config) -> bool:
    """What `jobdash check` asks beyond the file's rules: its programs and modules are here
    (`unrunnable`), its web password is a hash."""
    if unrunnable(config) is not None:
        return False
    try:
        if config.web_password_hash is not None:
            check_hash(config.web_password_hash, "web.password_hash")
    except BadInput:
        return False
    return True


@pytest.mark.slow
def test_jobdash_check_agrees_exits_0_or_2_and_prints_no_traceback(
    folder: Path, tmp_path: Path
) -> None:
    """A sample through the real `jobdash check` (a subprocess each)."""
    db = tmp_path / "check.db"
    seen: Counter[int] = Counter()
    counter = iter(range(10**9))

    @repeatable(30)
    @given(config_files(), st.just(None))
    def one(data: bytes, _: None) -> None:
        path = folder / f"check-{next(counter)}.toml"
        config = load_one(data, folder / "in-process.toml")
        expected = 0 if config is not None and runs_here(config) else 2
        path.write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-m", "jobdash", "check", "--config", str(path), "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == expected, (done.returncode, done.stderr)
        if expected == 2:
            (line,) = done.stderr.strip().splitlines()
            assert line.startswith(f"jobdash: {path}")
        seen[done.returncode] += 1

    one()
    assert seen[0] and seen[2], seen
