"""Year resolution for header dates like 'Mar 14': header, then path, then config, then arrival."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.prepare.dates import DateError, resolve_snapshot_date

ARRIVED = dt.datetime(2025, 3, 22, 8, 0, tzinfo=dt.UTC)


def resolve(text: str, path: str = "feed.txt", year: int | None = None, arrived: dt.datetime = ARRIVED) -> tuple[str, str]:
    resolved = resolve_snapshot_date(text, path, year, arrived)
    return resolved.date.isoformat(), resolved.source


@pytest.mark.parametrize("text", ["Mar 14, 2024", "Mar 14 2024", "March 14, 2024", "Mar 14th, 2024"])
def test_a_year_in_the_header_wins_over_everything(text: str) -> None:
    assert resolve(text, "2025-03-14/feed.txt", 2023) == ("2024-03-14", "header")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("2025-03-14/feed.txt", "2025-03-14"),
        ("feeds/20250314.txt", "2025-03-14"),
        ("2025/03/14/feed.txt", "2025-03-14"),
        ("feed_2025_03_15.txt", "2025-03-14"),
        ("2025-03-13/feed.txt", "2025-03-14"),  # one day of slack: the path may be in another time zone
        ("2025-09-20/feed.txt", "2025-03-14"),  # filed long after, still that year
        ("2025-01-01/feed.txt", "2024-03-14"),  # the feed's day is never after its filing date
    ],
)
def test_a_date_in_the_path_gives_the_latest_such_day_not_after_it(path: str, expected: str) -> None:
    assert resolve("Mar 14", path, 2023) == (expected, "path")


def test_hex_names_are_not_read_as_dates() -> None:
    assert resolve("Mar 14", "000_20250314abcdef.txt", 2023) == ("2023-03-14", "config")


def test_dec_31_near_new_year_path_goes_back_a_year() -> None:
    assert resolve("Dec 31", "2025-01-01/feed.txt") == ("2024-12-31", "path")


def test_configured_year_when_header_and_path_have_none() -> None:
    assert resolve("Mar 14", "000_777945d1c727355c.txt", 2025) == ("2025-03-14", "config")


@pytest.mark.parametrize(
    ("text", "arrived", "expected"),
    [
        ("Mar 14", dt.datetime(2025, 3, 22, tzinfo=dt.UTC), "2025-03-14"),
        ("Mar 22", dt.datetime(2025, 3, 22, tzinfo=dt.UTC), "2025-03-22"),
        ("Dec 30", dt.datetime(2025, 1, 2, tzinfo=dt.UTC), "2024-12-30"),
        ("Feb 29", dt.datetime(2027, 3, 1, tzinfo=dt.UTC), "2024-02-29"),
    ],
)
def test_otherwise_the_most_recent_such_day_not_after_arrival(text: str, arrived: dt.datetime, expected: str) -> None:
    assert resolve(text, arrived=arrived) == (expected, "arrival")


@pytest.mark.parametrize(("text", "year"), [("Feb 30", 2025), ("Feb 29", 2025), ("Smarch 14", None)])
def test_impossible_dates_are_errors_not_guesses(text: str, year: int | None) -> None:
    with pytest.raises(DateError):
        resolve(text, year=year)
