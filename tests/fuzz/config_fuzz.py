"""The config fuzzer's long run: `python tests/fuzz/config_fuzz.py [--examples N] [--seed S]`.

The test suite tries 2,000 derandomized examples a run (tests/fuzz/test_config_fuzz.py);
this script tries 100,000 (or N) with the same generator and the same check, from a random
seed it prints (give it back with --seed to repeat a run), and reports how many examples
loaded and how many were refused, and the time taken. It stops at the first file that
raises anything but the one-line ConfigError, after hypothesis shrinks it, and prints it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.configs import config_files, load_one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    a = parser.parse_args()
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "jobdash.toml"

        @seed(a.seed)
        @settings(
            max_examples=a.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(config_files())
        def one(data: bytes) -> None:
            outcomes["loaded" if load_one(data, path) else "refused"] += 1
            n = outcomes.total()
            if n % 10_000 == 0:
                print(f"  {n:,} examples, {time.monotonic() - started:.0f} s", flush=True)

        print(f"config fuzz: {a.examples:,} examples, seed {a.seed}", flush=True)
        one()
    took = time.monotonic() - started
    n = outcomes.total()
    print(
        f"{n:,} examples in {took:.0f} s ({n / took:.0f}/s): {outcomes['loaded']:,} loaded, "
        f"{outcomes['refused']:,} refused with one line; nothing else raised"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
