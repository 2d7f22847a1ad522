"""The slot engine: pure functions from rules, busy time and a clock to bookable slots.

Wall-clock rules are read in the practitioner's zone. A local time that does not exist
(the spring-forward gap) is never offered; an ambiguous one (the fall-back hour) always
means its first occurrence (fold=0), so it is offered once and resolves the same way
everywhere.

A session must lie inside one range of working hours on its own day. Its *blocked* span,
the session widened by the type's buffers, must not overlap any busy interval: other
sessions' blocked spans and mirrored busy blocks. This is the same rule the database's
exclusion constraint enforces.

A series (several sessions booked together) is offered at a first-session start when a
whole set of free sessions exists. A follow-up without a window falls exactly its offset
after the first day at the same local time of day. A follow-up with a window may fall on
any day of it; the proposed set puts each follow-up on its ideal day if it can, else on
the nearest day of its window (the earlier of two equally near days first), at the same
local time of day when that is free, else at the nearest free start of that day's step
grid (the earlier of two equally near times first; nearness in wall-clock minutes). The
local time of day is kept across a DST switch: it is resolved on the follow-up's own day.
Sessions of a set keep the series order, never share a local date, and their blocked
spans never overlap one another. The same inputs always propose the same set.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.types import Interval, SessionSpec, Slot, SlotInputs, SlotRules, WallRange


class InvalidSessions(ValueError):
    """A client's choice of series sessions breaks the series' shape: wrong count, a first
    start that is not the slot's, a session outside its window, or out of order."""


@dataclass(frozen=True)
class SeriesOptions:
    """The proposed set for one first-session start, and for every session the free starts
    its window allows given that first session (the first session's own is just itself)."""

    slot: Slot
    options: tuple[tuple[Interval, ...], ...]


def available_slots(
    inputs: SlotInputs, *, now: datetime, first_day: date, last_day: date
) -> list[Slot]:
    """Return the bookable slots whose first session starts on a local date in
    [first_day, last_day] (inclusive dates in the practitioner's zone).

    Slots are sorted by start; each carries every session of the booking it would make.
    """
    rules = inputs.rules
    planner = _SeriesPlanner(rules, BusyIndex(inputs.busy))
    earliest = now + rules.min_notice
    latest = now + timedelta(days=rules.max_days_ahead)
    found: dict[datetime, Slot] = {}
    for day in _days(first_day, last_day):
        for wall in working_ranges(rules, day):
            for local_time in _wall_steps(day, wall, rules.step):
                slot = planner.slot_at(day, local_time)
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


def series_options(inputs: SlotInputs, *, now: datetime, start: datetime) -> SeriesOptions | None:
    """The proposed set and every session's free starts for the slot starting at exactly
    `start`, or None if that start is not offered."""
    slot = find_slot(inputs, now=now, start=start)
    if slot is None:
        return None
    planner = _SeriesPlanner(inputs.rules, BusyIndex(inputs.busy))
    first = slot.sessions[0]
    day = first.start.astimezone(inputs.rules.timezone).date()
    at = first.start.astimezone(inputs.rules.timezone).time()
    options = [(first,)]
    for spec in inputs.rules.series[1:]:
        options.append(tuple(planner.options(day, at, spec, first)))
    return SeriesOptions(slot=slot, options=tuple(options))


def choose_sessions(
    inputs: SlotInputs, *, now: datetime, start: datetime, starts: list[datetime]
) -> Slot | None:
    """The slot at `start` with its sessions at the client's `starts` (every session's start,
    the first equal to `start`), or None if the slot is not offered or a chosen session is
    not free. Raises InvalidSessions if the choice breaks the series' shape."""
    rules = inputs.rules
    if len(starts) != len(rules.series):
        raise InvalidSessions(f"List all {len(rules.series)} sessions of the series, in order.")
    if starts[0] != start:
        raise InvalidSessions("The first session's start must equal start.")
    tz = rules.timezone
    first_local = start.astimezone(tz)
    previous = -1
    for index, (spec, chosen) in enumerate(zip(rules.series, starts, strict=True)):
        local = chosen.astimezone(tz)
        offset = (local.date() - first_local.date()).days
        if offset <= previous:
            raise InvalidSessions("The sessions must be on different days, in series order.")
        previous = offset
        if not spec.earliest_day <= offset <= spec.latest_day:
            raise InvalidSessions(f"Session {index + 1} is outside its window.")
        if not spec.has_window and local.time() != first_local.time():
            raise InvalidSessions(
                f"Session {index + 1} has no window: it starts at the first session's time."
            )
    offered = series_options(inputs, now=now, start=start)
    if offered is None:
        return None
    sessions = []
    planner = _SeriesPlanner(rules, BusyIndex(inputs.busy))
    for chosen, options in zip(starts, offered.options, strict=True):
        match = next((o for o in options if o.start == chosen), None)
        if match is None:
            return None
        blocked = blocked_span(rules, match)
        if any(planner.clash(blocked, other) for other in sessions):
            return None
        sessions.append(match)
    first = sessions[0]
    return Slot(start=first.start, end=first.end, sessions=tuple(sessions))


def blocked_span(rules: SlotRules, session: Interval) -> Interval:
    """The time a session keeps the practitioner from other work: itself plus buffers."""
    return Interval(session.start - rules.buffer_before, session.end + rules.buffer_after)


def working_ranges(rules: SlotRules, day: date) -> tuple[WallRange, ...]:
    """The wall-clock working ranges of one local date, after overrides."""
    return rules.ranges(day)


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


class _SeriesPlanner:
    """Finds the proposed set of sessions for a first-session start; each day's free grid
    starts are computed once per session length and reused across first starts."""

    def __init__(self, rules: SlotRules, busy: "BusyIndex") -> None:
        self._rules = rules
        self._busy = busy
        self._windows = _WorkingWindows(rules)
        self._free: dict[tuple[date, timedelta], tuple[list[int], list[Interval]]] = {}

    def slot_at(self, day: date, at: time) -> Slot | None:
        rules = self._rules
        first = self._session(day, at, rules.series[0])
        if first is None:
            return None
        chosen = [first]
        windowed = []
        for spec in rules.series[1:]:
            if spec.has_window:
                windowed.append(spec)
                continue
            # Fixed follow-ups first: the cheap test that rejects most starts.
            session = self._session(day + timedelta(days=spec.offset_days), at, spec)
            if session is None:
                return None
            chosen.append(session)
        if windowed:
            first_blocked = blocked_span(rules, first)
            # Fail fast: each windowed follow-up needs some free start beside the first.
            for spec in windowed:
                if not any(
                    not self.clash(first_blocked, candidate)
                    for offset in _window_days(spec)
                    for candidate in self._day_candidates(day + timedelta(days=offset), at, spec)
                ):
                    return None
            found = self._place(day, at, 1, [first], [first_blocked], 0)
            if found is None:
                return None
            chosen = found
        return Slot(start=first.start, end=first.end, sessions=tuple(chosen))

    def _day_candidates(self, day: date, at: time, spec: SessionSpec) -> Iterator[Interval]:
        same = self._session(day, at, spec)
        if same is not None:
            yield same
        yield from self._free_starts(day, spec)[1]

    def _place(self, day, at, index, chosen, blocked, previous_offset):
        rules = self._rules
        if index == len(rules.series):
            return list(chosen)
        spec = rules.series[index]
        for offset in _preferred_days(spec):
            if offset <= previous_offset:
                continue
            session_day = day + timedelta(days=offset)
            for session in self._preferred_starts(session_day, at, spec):
                span = blocked_span(rules, session)
                if any(_overlap(span, other) for other in blocked):
                    continue
                chosen.append(session)
                blocked.append(span)
                found = self._place(day, at, index + 1, chosen, blocked, offset)
                chosen.pop()
                blocked.pop()
                if found is not None:
                    return found
                if not spec.has_window:
                    return None
        return None

    def _preferred_starts(self, day: date, at: time, spec: SessionSpec) -> Iterator[Interval]:
        """The same local time if free, then (windowed only) the day's free starts nearest
        to it in wall-clock minutes, the earlier first on ties."""
        same = self._session(day, at, spec)
        if same is not None:
            yield same
        if not spec.has_window:
            return
        minutes, starts = self._free_starts(day, spec)
        target = at.hour * 60 + at.minute
        high = bisect_left(minutes, target)
        low = high - 1
        while low >= 0 or high < len(minutes):
            if high >= len(minutes) or (
                low >= 0 and target - minutes[low] <= minutes[high] - target
            ):
                candidate = starts[low]
                low -= 1
            else:
                candidate = starts[high]
                high += 1
            if same is None or candidate.start != same.start:
                yield candidate

    def options(self, day: date, at: time, spec: SessionSpec, first: Interval) -> list[Interval]:
        """Every free start of a follow-up inside its window, given the first session."""
        first_blocked = blocked_span(self._rules, first)
        found: dict[datetime, Interval] = {}
        for offset in _window_days(spec):
            session_day = day + timedelta(days=offset)
            same = self._session(session_day, at, spec)
            candidates = [same] if same is not None else []
            if spec.has_window:
                candidates += self._free_starts(session_day, spec)[1]
            for candidate in candidates:
                if not self.clash(first_blocked, candidate):
                    found.setdefault(candidate.start, candidate)
        return [found[key] for key in sorted(found)]

    def clash(self, blocked: Interval, session: Interval) -> bool:
        return _overlap(blocked, blocked_span(self._rules, session))

    def _session(self, day: date, at: time, spec: SessionSpec) -> Interval | None:
        """The session at local `at` on `day` if it exists, fits working hours and is free."""
        begin = self._windows.resolve(day, at)
        if begin is None:
            return None
        session = Interval(begin, begin + spec.duration)
        if not self._windows.contain(day, session):
            return None
        blocked = blocked_span(self._rules, session)
        if not self._busy.is_free(blocked.start, blocked.end):
            return None
        return session

    def _free_starts(self, day: date, spec: SessionSpec) -> tuple[list[int], list[Interval]]:
        """The day's free step-grid starts for this session length, by wall-clock minute."""
        key = (day, spec.duration)
        cached = self._free.get(key)
        if cached is None:
            by_minute: dict[int, Interval] = {}
            for wall in working_ranges(self._rules, day):
                for local_time in _wall_steps(day, wall, self._rules.step):
                    session = self._session(day, local_time, spec)
                    if session is not None:
                        by_minute.setdefault(local_time.hour * 60 + local_time.minute, session)
            minutes = sorted(by_minute)
            cached = self._free[key] = (minutes, [by_minute[m] for m in minutes])
        return cached


def _window_days(spec: SessionSpec) -> range:
    return range(spec.earliest_day, spec.latest_day + 1)


def _preferred_days(spec: SessionSpec) -> Iterator[int]:
    """The ideal day, then the window's days by distance from it, earlier first on ties."""
    yield spec.offset_days
    for distance in range(1, max(spec.window_before, spec.window_after) + 1):
        if distance <= spec.window_before:
            yield spec.offset_days - distance
        if distance <= spec.window_after:
            yield spec.offset_days + distance


def _overlap(a: Interval, b: Interval) -> bool:
    return a.start < b.end and b.start < a.end


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
