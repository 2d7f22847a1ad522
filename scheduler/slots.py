"""The slot engine: pure functions from rules, busy time and a clock to bookable slots.

Wall-clock rules are read in the practitioner's zone. A local time that does not exist
(the spring-forward gap) is never offered; an ambiguous one (the fall-back hour) always
means its first occurrence (fold=0), so it is offered once and resolves the same way
everywhere.

A session must lie inside one range of working hours on its own day. Its *blocked* span,
the session widened by the type's buffers, must not overlap any busy interval: other
sessions' blocked spans and mirrored busy blocks. This is the same rule the database's
exclusion constraint enforces.
"""

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.types import Interval, Slot, SlotInputs, SlotRules, WallRange


def available_slots(
    inputs: SlotInputs, *, now: datetime, first_day: date, last_day: date
) -> list[Slot]:
    """Return the bookable slots whose first session starts on a local date in
    [first_day, last_day] (inclusive dates in the practitioner's zone).

    Slots are sorted by start; each carries every session of the booking it would make.
    """
    rules = inputs.rules
    busy = BusyIndex(inputs.busy)
    windows = _WorkingWindows(rules)
    earliest = now + rules.min_notice
    latest = now + timedelta(days=rules.max_days_ahead)
    found: dict[datetime, Slot] = {}
    for day in _days(first_day, last_day):
        for wall in working_ranges(rules, day):
            for local_time in _wall_steps(day, wall, rules.step):
                slot = _slot_at(rules, busy, windows, day, local_time)
                if slot is not None and earliest <= slot.start <= latest:
                    found.setdefault(slot.start, slot)
    return [found[key] for key in sorted(found)]


def find_slot(inputs: SlotInputs, *, now: datetime, start: datetime) -> Slot | None:
    """Return the slot that starts at exactly `start`, or None if it is not offered."""
    day = start.astimezone(inputs.rules.timezone).date()
    for slot in available_slots(inputs, now=now, first_day=day, last_day=day):
        if slot.start == start:
            return slot
    return None


def blocked_span(rules: SlotRules, session: Interval) -> Interval:
    """The time a session keeps the practitioner from other work: itself plus buffers."""
    return Interval(session.start - rules.buffer_before, session.end + rules.buffer_after)


def working_ranges(rules: SlotRules, day: date) -> tuple[WallRange, ...]:
    """The wall-clock working ranges of one local date, after overrides."""
    if day in rules.overrides:
        return rules.overrides[day]
    return rules.weekly.get(day.weekday(), ())


def resolve_local(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None if that time does not exist."""
    naive = datetime.combine(day, at)
    instant = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return instant


def _boundary(day: date, at: time, tz: ZoneInfo) -> datetime:
    # A range edge inside the spring-forward gap is read with the pre-gap offset, which
    # lands it the same distance past the gap (02:00 becomes 03:00 in Europe/Amsterdam).
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def _slot_at(
    rules: SlotRules, busy: "BusyIndex", windows: "_WorkingWindows", day: date, at: time
) -> Slot | None:
    sessions = []
    for spec in rules.series:
        session_day = day + timedelta(days=spec.offset_days)
        begin = windows.resolve(session_day, at)
        if begin is None:
            return None
        session = Interval(begin, begin + spec.duration)
        if not windows.contain(session_day, session):
            return None
        blocked = blocked_span(rules, session)
        if not busy.is_free(blocked.start, blocked.end):
            return None
        sessions.append(session)
    first = sessions[0]
    return Slot(start=first.start, end=first.end, sessions=tuple(sessions))


class _WorkingWindows:
    """Each local day's working ranges as UTC instants, computed once per day."""

    def __init__(self, rules: SlotRules) -> None:
        self._rules = rules
        self._by_day: dict[date, list[tuple[datetime, datetime]]] = {}
        self._offsets: dict[date, timedelta | None] = {}

    def resolve(self, day: date, at: time) -> datetime | None:
        """resolve_local(), with the day's UTC offset reused on days without a switch."""
        offset = self._offsets.get(day, _UNKNOWN)
        if offset is _UNKNOWN:
            offset = self._offsets[day] = _steady_offset(day, self._rules.timezone)
        if offset is None:  # the clocks change this day: resolve each time exactly
            return resolve_local(day, at, self._rules.timezone)
        return (datetime.combine(day, at) - offset).replace(tzinfo=UTC)

    def contain(self, day: date, session: Interval) -> bool:
        windows = self._by_day.get(day)
        if windows is None:
            tz = self._rules.timezone
            windows = [
                (_boundary(day, wall.start, tz), _boundary(day, wall.end, tz))
                for wall in working_ranges(self._rules, day)
            ]
            self._by_day[day] = windows
        return any(begin <= session.start and session.end <= end for begin, end in windows)


_UNKNOWN = object()


def _steady_offset(day: date, tz: ZoneInfo) -> timedelta | None:
    """The day's UTC offset if it is the same at both midnights (no switch), else None."""
    first = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
    following = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).utcoffset()
    return first if first == following else None


def _wall_steps(day: date, wall: WallRange, step: timedelta) -> Iterator[time]:
    """Wall-clock starts from the range's start in whole steps, while inside the range."""
    cursor = datetime.combine(day, wall.start)
    limit = datetime.combine(day, wall.end)
    while cursor < limit:
        yield cursor.time()
        cursor += step


def _days(first_day: date, last_day: date) -> Iterator[date]:
    day = first_day
    while day <= last_day:
        yield day
        day += timedelta(days=1)


class BusyIndex:
    """Busy intervals merged into sorted, disjoint spans for O(log n) overlap tests."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        starts: list[datetime] = []
        ends: list[datetime] = []
        for interval in sorted(intervals, key=lambda i: i.start):
            if ends and interval.start <= ends[-1]:
                ends[-1] = max(ends[-1], interval.end)
            else:
                starts.append(interval.start)
                ends.append(interval.end)
        self._starts = starts
        self._ends = ends

    def is_free(self, start: datetime, end: datetime) -> bool:
        """True if [start, end) overlaps no busy span; touching ends do not overlap."""
        i = bisect_right(self._ends, start)
        return i == len(self._ends) or self._starts[i] >= end
