"""Plain values the slot engine works on: no ORM, no clock."""

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from scheduler.bounds import MAX_SERIES_OFFSET_DAYS, MAX_SERIES_SESSIONS, MAX_SESSION_MINUTES


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
    """One session of a type: which day after the first, and how long."""

    offset_days: int
    duration: timedelta


@dataclass(frozen=True)
class SlotRules:
    """Everything about a practitioner and an appointment type that decides slots."""

    timezone: ZoneInfo
    weekly: Mapping[int, tuple[WallRange, ...]]
    # A date present here replaces that weekday's rules; an empty tuple closes the day.
    overrides: Mapping[date, tuple[WallRange, ...]]
    series: tuple[SessionSpec, ...]
    buffer_before: timedelta
    buffer_after: timedelta
    step: timedelta
    min_notice: timedelta
    max_days_ahead: int

    @property
    def series_span_days(self) -> int:
        return self.series[-1].offset_days


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


def series_from_json(value: object) -> tuple[SessionSpec, ...]:
    """Parse and check an appointment type's series (the API's `sessions` list).

    Offsets start at 0 and strictly increase, so the sessions of one series never fall on
    the same day.
    """
    if not isinstance(value, list) or not value:
        raise ValidationError("sessions must be a non-empty list or null.")
    if len(value) > MAX_SERIES_SESSIONS:
        raise ValidationError(f"A series has at most {MAX_SERIES_SESSIONS} sessions.")
    specs = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"offset_days", "duration_minutes"}:
            raise ValidationError("Each session needs exactly offset_days and duration_minutes.")
        offset, minutes = item["offset_days"], item["duration_minutes"]
        if type(offset) is not int or type(minutes) is not int:
            raise ValidationError("offset_days and duration_minutes must be whole numbers.")
        if not 0 <= offset <= MAX_SERIES_OFFSET_DAYS:
            raise ValidationError(f"offset_days must be between 0 and {MAX_SERIES_OFFSET_DAYS}.")
        if not 5 <= minutes <= MAX_SESSION_MINUTES:
            raise ValidationError(f"duration_minutes must be between 5 and {MAX_SESSION_MINUTES}.")
        specs.append(SessionSpec(offset_days=offset, duration=timedelta(minutes=minutes)))
    if specs[0].offset_days != 0:
        raise ValidationError("The first session of a series has offset_days 0.")
    if any(a.offset_days >= b.offset_days for a, b in itertools.pairwise(specs)):
        raise ValidationError("offset_days must strictly increase.")
    return tuple(specs)
