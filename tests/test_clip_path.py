"""How a path (a target, a task name like `HR/pages`) is cut to fit a narrow cell
(`clip_path`): from the start, so the end that tells rows apart stays on screen."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jobdash.present.text import cells, clip_path

EXPORT = "/srv/data/exports/2026/customer-4711.csv"


@pytest.mark.parametrize(
    ("width", "shown"),
    [
        (40, EXPORT),  # fits: as it is
        (39, "…/data/exports/2026/customer-4711.csv"),  # the cut falls on a slash
        (32, "…/exports/2026/customer-4711.csv"),
        (25, "…/2026/customer-4711.csv"),
        (19, "…/customer-4711.csv"),
        (17, "…ustomer-4711.csv"),  # the last part alone is too long: its end
        (1, "…"),
        (0, ""),
    ],
)
def test_a_long_path_keeps_its_end(width: int, shown: str) -> None:
    assert clip_path(EXPORT, width) == shown


def test_rows_of_one_folder_stay_apart() -> None:
    names = [f"/srv/data/exports/2026/customer-{n}.csv" for n in (4711, 4712, 4713)]
    assert len({clip_path(name, 20) for name in names}) == 3


def test_a_cut_on_a_slash_costs_at_most_a_third_of_the_room() -> None:
    # Aligning to the slash would leave "…/x.csv" of a 30-cell cell: the folder's end shows.
    path = "/srv/a-very-long-directory-name-here/x.csv"
    assert clip_path(path, 30) == "…ong-directory-name-here/x.csv"


def test_wide_characters_count_two_cells() -> None:
    path = "/srv/日本語/ファイル名.csv"
    assert clip_path(path, 10) == "…ル名.csv"
    assert cells(clip_path(path, 10)) == 9  # a wide character does not fit in the last cell


def test_a_combining_mark_stays_with_its_character() -> None:
    path = "/data/cafe\u0301s/menu\u0301.txt"
    shown = clip_path(path, 8)
    assert shown == "…enu\u0301.txt"
    assert not unicodedata.combining(shown[1])


_CHARS = st.sampled_from([*"abc/-_.", "日", "名", "e\u0301", "\u0301", "é", "😀"])
_PATHS = st.lists(_CHARS, max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(_PATHS, st.integers(min_value=0, max_value=45))
@example("a/\u0301a", 2)  # the last part starts with a mark: it is the cut '/''s
def test_the_cut_path_fits_and_keeps_the_end(path: str, width: int) -> None:
    shown = clip_path(path, width)
    assert cells(shown) <= width
    if cells(path) <= width:
        assert shown == path  # what fits is not touched
        return
    if width == 0:
        assert shown == ""
        return
    assert shown.startswith("…")
    kept = shown[1:]
    assert path.endswith(kept)  # the end, never a middle or the start
    last = path.rsplit("/", 1)[-1]
    base = path.rstrip("".join({c for c in path if unicodedata.combining(c)}))[-1:]
    if base and cells(base) <= width - 1:
        assert kept  # some of the last part's end shows (its last character and marks)
    if cells(last) <= width - 1 - (width - 1) // 3:
        # A last part with room enough shows whole: its letters, that is (marks at its
        # start sit on the '/' before it, and a shown text never starts with a mark).
        assert kept.endswith(last.lstrip("".join(c for c in last if unicodedata.combining(c))))
    assert not kept or not unicodedata.combining(kept[0])


def test_a_narrowed_unread_mark_keeps_its_gravest_part() -> None:
    from jobdash.core.model import Unread
    from jobdash.present.unread import unread_mark_in

    marks = Unread(lines=2300, warnings=3, errors=12)
    assert unread_mark_in(marks, 14) == "●2.3k ⚠3 ✘12"
    assert unread_mark_in(marks, 5) == "✘12"
    assert unread_mark_in(Unread(lines=38, warnings=1, errors=0), 5) == "⚠1"
    assert unread_mark_in(Unread(lines=1_234_567, warnings=0, errors=0), 5) == "●1.2M"
    assert unread_mark_in(None, 5) == ""
