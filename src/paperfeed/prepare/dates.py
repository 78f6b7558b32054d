"""Snapshot dates: the header says 'Mar 14' without a year; resolve the year and say how.

Order of evidence (issue #2): a year written in the header; else a date in the file's path; else a
configured year; else the file's arrival. A path date or an arrival is when the file was filed,
which is on or after the feed's day: the year is the one that makes the header's day the most
recent such day not after it, with one day of slack for time zones. The winner is recorded as
`date_source`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from paperfeed.prepare.parse import MONTHS, match_date

PATH_DATE = re.compile(
    r"(?<![0-9A-Za-z])((?:19|20)\d{2})([-_./]?)(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])(?![0-9A-Za-z])"
)


# The feed's day may be a time zone ahead of the filing clock.
SLACK = dt.timedelta(days=1)


class DateError(ValueError):
    """The header's date cannot be turned into a calendar date."""


@dataclass(frozen=True)
class ResolvedDate:
    date: dt.date
    source: str  # header | path | config | arrival


def resolve_snapshot_date(
    date_text: str, path: str, year: int | None, arrived_at: dt.datetime
) -> ResolvedDate:
    match = match_date(date_text)
    if match is None:
        raise DateError(f"date line {date_text!r} is not a date like 'Mar 14'")
    month = MONTHS.index(match["month"].lower()) + 1
    day = int(match["day"])
    if match["year"]:
        return ResolvedDate(_make(int(match["year"]), month, day, date_text), "header")
    path_date = _date_in_path(path)
    if path_date is not None:
        return ResolvedDate(_latest_not_after(month, day, path_date + SLACK, date_text), "path")
    if year is not None:
        return ResolvedDate(_make(year, month, day, date_text), "config")
    arrival_day = arrived_at.astimezone(dt.UTC).date()
    return ResolvedDate(_latest_not_after(month, day, arrival_day + SLACK, date_text), "arrival")


def _latest_not_after(month: int, day: int, reference: dt.date, date_text: str) -> dt.date:
    # Feb 29 may need up to eight years back to find a leap year.
    for candidate_year in range(reference.year, reference.year - 9, -1):
        candidate = _try(candidate_year, month, day)
        if candidate is not None and candidate <= reference:
            return candidate
    raise DateError(f"date line {date_text!r} is not a day of any recent year")


def _date_in_path(path: str) -> dt.date | None:
    for match in PATH_DATE.finditer(path):
        found = _try(int(match[1]), int(match[3]), int(match[4]))
        if found is not None:
            return found
    return None


def _try(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _make(year: int, month: int, day: int, date_text: str) -> dt.date:
    found = _try(year, month, day)
    if found is None:
        raise DateError(f"date line {date_text!r} is not a day of {year}")
    return found
