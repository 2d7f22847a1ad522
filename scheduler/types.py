"""Plain values the slot engine works on: no ORM, no clock."""

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from scheduler.bounds import (
    MAX_SERIES_OFFSET_DAYS,
    MAX_SERIES_SESSIONS,
    MAX_SERIES_WINDOW_DAYS,
    MAX_SESSION_MINUTES,
)


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time [start, end) between two aware instants."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class WallRange:
    """Working hours within one local day, as wall-clock times [start, end)."""

    start: time
    end: time


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """One session of a type: which day after the first, and how long.

    A follow-up with a window may fall from `window_before` days before to `window_after`
    days after its ideal day, at any free time of that day; without a window (both 0) it
    is exactly `offset_days` after the first session, at the same local time of day.
    """

    offset_days: int
    duration: timedelta
    window_before: int = 0
    window_after: int = 0

    @property
    def has_window(self) -> bool:
        return bool(self.window_before or self.window_after)

    @property
    def earliest_day(self) -> int:
        return self.offset_days - self.window_before

    @property
    def latest_day(self) -> int:
        return self.offset_days + self.window_after


@dataclass(frozen=True)
class WorkingHours:
    """A practitioner's hours: ranges by weekday (0 = Monday), and dates that differ."""

    timezone: ZoneInfo
    weekly: Mapping[int, tuple[WallRange, ...]]
    # A date present here replaces that weekday's rules; an empty tuple closes the day.
    overrides: Mapping[date, tuple[WallRange, ...]]

    def ranges(self, day: date) -> tuple[WallRange, ...]:
        """The wall-clock working ranges of one local date, after overrides."""
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())


@dataclass(frozen=True)
class SlotRules(WorkingHours):
    """Everything about a practitioner and an appointment type that decides slots: the
    hours, and the type's rules."""

    series: tuple[SessionSpec, ...]
    buffer_before: timedelta
    buffer_after: timedelta
    step: timedelta
    min_notice: timedelta
    max_days_ahead: int

    @property
    def series_span_days(self) -> int:
        """Days from the first session to the latest day any session may fall on."""
        return max(spec.latest_day for spec in self.series)


@dataclass(frozen=True)
class SlotInputs:
    rules: SlotRules
    # Time that is taken: live sessions with their buffers, and mirrored busy blocks.
    busy: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable start: the first session's span plus every session of the booking."""

    start: datetime
    end: datetime
    sessions: tuple[Interval, ...]


SESSION_KEYS = {"offset_days", "duration_minutes"}
WINDOW_KEYS = {"window_before_days", "window_after_days"}


def series_from_json(value: object) -> tuple[SessionSpec, ...]:
    """Parse and check an appointment type's series (the API's `sessions` list).

    Offsets start at 0 and strictly increase. A follow-up may carry a window of days
    (`window_before_days`, `window_after_days`, default 0); the first session has none.
    Windows may not overlap or touch the first day: the days one follow-up may fall on all
    come after those of the one before, so any choice inside the windows keeps the series
    order and puts no two sessions on the same day.
    """
    if not isinstance(value, list) or not value:
        raise ValidationError("sessions must be a non-empty list or null.")
    if len(value) > MAX_SERIES_SESSIONS:
        raise ValidationError(f"A series has at most {MAX_SERIES_SESSIONS} sessions.")
    specs = []
    for item in value:
        if (
            not isinstance(item, dict)
            or not set(item) >= SESSION_KEYS
            or not set(item) <= SESSION_KEYS | WINDOW_KEYS
        ):
            raise ValidationError(
                "Each session needs offset_days and duration_minutes, and may have "
                "window_before_days and window_after_days."
            )
        offset, minutes = item["offset_days"], item["duration_minutes"]
        before, after = item.get("window_before_days", 0), item.get("window_after_days", 0)
        if any(type(n) is not int for n in (offset, minutes, before, after)):
            raise ValidationError(
                "offset_days, duration_minutes and the window days must be whole numbers."
            )
        if not 0 <= offset <= MAX_SERIES_OFFSET_DAYS:
            raise ValidationError(f"offset_days must be between 0 and {MAX_SERIES_OFFSET_DAYS}.")
        if not 5 <= minutes <= MAX_SESSION_MINUTES:
            raise ValidationError(f"duration_minutes must be between 5 and {MAX_SESSION_MINUTES}.")
        if not (0 <= before <= MAX_SERIES_WINDOW_DAYS and 0 <= after <= MAX_SERIES_WINDOW_DAYS):
            raise ValidationError(
                f"window_before_days and window_after_days must be between 0 and "
                f"{MAX_SERIES_WINDOW_DAYS}."
            )
        specs.append(
            SessionSpec(
                offset_days=offset,
                duration=timedelta(minutes=minutes),
                window_before=before,
                window_after=after,
            )
        )
    if specs[0].offset_days != 0:
        raise ValidationError("The first session of a series has offset_days 0.")
    if specs[0].has_window:
        raise ValidationError("The first session of a series has no window.")
    if any(a.offset_days >= b.offset_days for a, b in itertools.pairwise(specs)):
        raise ValidationError("offset_days must strictly increase.")
    if specs[-1].latest_day > MAX_SERIES_OFFSET_DAYS:
        raise ValidationError(
            f"A series must end within {MAX_SERIES_OFFSET_DAYS} days, windows included."
        )
    if any(a.latest_day >= b.earliest_day for a, b in itertools.pairwise(specs)):
        raise ValidationError(
            "The windows of a series may not overlap: every day a session may fall on must "
            "come after every day the session before it may fall on (and after the first day)."
        )
    return tuple(specs)
