"""The bounds of numbers from outside (command line, config, filter text), held here before
they reach SQLite, whose integers are 64-bit, or the clock arithmetic, which ends at year
9999: a bigger one is refused with one line instead of failing deep inside (or, for a
duration, meaning "never").

Constants only, so that the command line's grammar can bound its arguments without loading
the model (`jobdash --help` starts in the time of argparse).
"""

MAX_ID = 2**63 - 1  # job ids, task numbers, counts of rows: SQLite's largest integer
MAX_DURATION = 100 * 365 * 86400.0  # seconds (100 years): timeouts, intervals, retention…
MAX_DURATION_TEXT = "36500d (100 years)"
MAX_PARALLEL = 10_000  # tasks at once: an agent's slots, a job type's `parallel`
MAX_RETRIES = 100  # the backoff doubles with each retry: 2**100 of anything is "never"
PREVIEW_MAX = 1000  # fire times one schedule preview lists at most
