"""Reads for the practitioner's agenda: a day or a week of sessions, mirrored busy time,
open hours and free time, as plain data. The admin's desk and the workspace render it."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from scheduler.models import Practitioner, Session
from scheduler.selectors import busy_block_list, busy_intervals, working_hours
from scheduler.slots import resolve_local
from scheduler.types import Interval

SPANS = {"day": 1, "week": 7}


@dataclass(frozen=True)
class AgendaWindow:
    """The dates an agenda shows: one day, or a week from its Monday."""

    span: str  # "day" or "week"
    first: date

    @property
    def days(self) -> int:
        return SPANS[self.span]

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)

    @property
    def previous(self) -> date:
        return self.first - timedelta(days=self.days)

    @property
    def next(self) -> date:
        return self.first + timedelta(days=self.days)

    def holds(self, day: date) -> bool:
        return self.first <= day <= self.last


def agenda_window(*, day: date | None, span: str | None, today: date) -> AgendaWindow:
    """The day `day` (default today), or the week holding it (any span but "day")."""
    first = day or today
    if span == "day":
        return AgendaWindow("day", first)
    return AgendaWindow("week", first - timedelta(days=first.weekday()))


@dataclass(frozen=True)
class BusyTime:
    start: datetime
    end: datetime
    source: str  # which calendar mirrored it (BusyBlock.source)


@dataclass
class AgendaDay:
    day: date
    # Cancelled ones too, in start order, with their booking and its type.
    sessions: list[Session] = field(default_factory=list)
    busy: list = field(default_factory=list)
    # Working hours, and what of them neither a live session (with its buffers) nor a busy
    # block takes from now on; local instants.
    open: list[Interval] = field(default_factory=list)
    free: list[Interval] = field(default_factory=list)
    closed: bool = False


def agenda_days(
    *, practitioner: Practitioner, window: AgendaWindow, now: datetime
) -> list[AgendaDay]:
    """Sessions (cancelled ones too), mirrored busy time, open and free time of each local
    date of the window.

    Free time is working time that neither a live session (with its buffers) nor a busy
    block takes, from `now` on: what can still be booked, whatever the type's notice and
    horizon."""
    zone = practitioner.zone
    first, days = window.first, window.days
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone)
    by_day = {first + timedelta(days=n): AgendaDay(first + timedelta(days=n)) for n in range(days)}
    sessions = (
        Session.objects.filter(practitioner=practitioner, start__gte=start, start__lt=end)
        .select_related("booking__appointment_type")
        .order_by("start", "pk")
    )
    for session in sessions:
        by_day[session.start.astimezone(zone).date()].sessions.append(session)

    for block in busy_block_list(practitioner_id=practitioner.pk, start=start, end=end):
        day = max(block.start.astimezone(zone).date(), first)
        if day in by_day:
            by_day[day].busy.append(
                BusyTime(block.start.astimezone(zone), block.end.astimezone(zone), block.source)
            )

    taken = sorted(
        busy_intervals(practitioner_id=practitioner.pk, start=start, end=end),
        key=lambda i: i.start,
    )
    hours = working_hours(practitioner=practitioner, first_day=first, last_day=window.last)
    for day, agenda_day in by_day.items():
        ranges = hours.ranges(day)
        agenda_day.closed = not ranges
        for wall in ranges:
            lo, hi = resolve_local(day, wall.start, zone), resolve_local(day, wall.end, zone)
            if lo is None or hi is None:
                continue
            agenda_day.open.append(Interval(lo.astimezone(zone), hi.astimezone(zone)))
            lo = max(lo, now)
            if lo >= hi:
                continue
            agenda_day.free.extend(
                Interval(a.astimezone(zone), b.astimezone(zone))
                for a, b in _subtract(lo, hi, taken)
            )
    return [by_day[d] for d in sorted(by_day)]


def _subtract(lo: datetime, hi: datetime, taken: list[Interval]) -> list[tuple]:
    free, cursor = [], lo
    for interval in taken:
        if interval.end <= cursor or interval.start >= hi:
            continue
        if interval.start > cursor:
            free.append((cursor, interval.start))
        cursor = max(cursor, interval.end)
        if cursor >= hi:
            break
    if cursor < hi:
        free.append((cursor, hi))
    return free
