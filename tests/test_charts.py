"""How the pictures' bars are drawn (present/charts.py, no Textual): the largest value fills
the height, any value above zero shows, nothing shows as nothing; marks stand beside
colours."""

from __future__ import annotations

from jobdash.core.model import JobStatus, Run
from jobdash.present.charts import bar_lines, hours_picture, runs_picture
from jobdash.present.status import Tone


def test_bars_in_eighths_of_a_cell() -> None:
    assert bar_lines([0, 4, 8], 1) == [" ▄█"]
    assert bar_lines([0, 1, 16], 2) == ["  █", " ▁█"]  # the smallest still shows
    assert bar_lines([None, 3, 6], 3) == ["  █", " ▄█", " ██"]
    assert bar_lines([0, 0], 2) == ["  ", "  "]
    assert bar_lines([], 2) == ["", ""]


def test_runs_oldest_first_with_their_marks() -> None:
    runs = [
        Run(7, JobStatus.FAILED, 70.0, 30.0),
        Run(5, JobStatus.SUCCEEDED, 50.0, 60.0),
        Run(9, JobStatus.RUNNING, 90.0, 15.0),
    ]
    series = runs_picture(runs, "runs", mark=9)
    assert [b.value for b in series.bars] == [60.0, 30.0, 15.0]
    assert [b.mark for b in series.bars] == ["", "✘", "▲"]
    assert [b.tone for b in series.bars] == [Tone.GOOD, Tone.BAD, Tone.ACTIVE]
    # The median and the longest of the runs that ended, not of the one still running.
    assert series.note == "3 runs · median 45s · longest 1m00s · ✘ 1 failed · ▲ this run 15s"


def test_hours_two_bars_an_hour_and_only_the_hours_with_jobs_in_words() -> None:
    now = 1_795_185_000.0  # 14:30 UTC
    counts = [(0, "succeeded", 3), (0, "warning", 1), (2, "failed", 2), (2, "cancelled", 1)]
    series = hours_picture(counts, now, hours=3)
    # Oldest hour first: (succeeded, failed) for 2, 1, 0 hours back.
    assert [b.value for b in series.bars] == [0, 2, 0, 0, 4, 0]
    assert series.note == "✔ 4 ✘ 2 · last failure 2–3 h ago"  # hours back from now
    assert len(series.entries) == 2  # the empty hour goes unsaid
    recent = hours_picture([*counts, (0, "failed", 1)], now, hours=3)
    assert recent.note == "✔ 4 ✘ 3 · last failure in the last hour"
