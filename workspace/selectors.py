"""Reads for the workspace: a day or week of the agenda, with free and busy time."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from scheduler.models import BusyBlock, DateOverride, Practitioner, Session, WeeklyRule
from scheduler.selectors import busy_intervals
from scheduler.slots import resolve_local
from scheduler.types import Interval
from sync.models import CalendarConnection


@dataclass
class BusyView:
    start: datetime
    end: datetime
    source_name: str
    # When the link that mirrored it is broken: since when its busy time is not refreshed.
    stale_since: datetime | None = None
    broken: bool = False


@dataclass
class AgendaDay:
    day: date
    sessions: list = field(default_factory=list)
    busy: list[BusyView] = field(default_factory=list)
    free: list[Interval] = field(default_factory=list)
    closed: bool = False


def working_ranges_by_day(
    *, practitioner: Practitioner, first: date, days: int
) -> dict[date, list[tuple[time, time]]]:
    """The wall-clock working ranges of each date, after days off and other hours."""
    weekly: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, begin, finish in WeeklyRule.objects.filter(practitioner=practitioner).values_list(
        "weekday", "start", "end"
    ):
        weekly[weekday].append((begin, finish))
    last = first + timedelta(days=days - 1)
    overrides: dict[date, list[tuple[time, time]]] = {}
    for day, begin, finish in DateOverride.objects.filter(
        practitioner=practitioner, date__range=(first, last)
    ).values_list("date", "ranges__start", "ranges__end"):
        ranges = overrides.setdefault(day, [])
        if begin is not None:
            ranges.append((begin, finish))
    result = {}
    for n in range(days):
        day = first + timedelta(days=n)
        result[day] = sorted(overrides[day] if day in overrides else weekly.get(day.weekday(), []))
    return result


def agenda_days(
    *, practitioner: Practitioner, first: date, days: int, now: datetime
) -> list[AgendaDay]:
    """Sessions (cancelled ones too), mirrored busy time and free time of each local date.

    Free time is working time that neither a live session (with its buffers) nor a busy
    block takes, from `now` on: what can still be booked, whatever the type's notice and
    horizon."""
    zone = practitioner.zone
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

    connections = {
        c.busy_source: c
        for c in CalendarConnection.objects.filter(practitioner=practitioner).only(
            "pk", "kind", "name", "url", "status", "last_success_at"
        )
    }
    blocks = BusyBlock.objects.filter(practitioner=practitioner, end__gt=start, start__lt=end).only(
        "start", "end", "source"
    )
    for block in blocks.order_by("start"):
        connection = connections.get(_connection_source(block.source))
        view = BusyView(
            start=block.start.astimezone(zone),
            end=block.end.astimezone(zone),
            source_name=(connection.name or connection.kind.upper()) if connection else "",
        )
        if connection is not None and connection.status != CalendarConnection.Status.OK:
            view.broken = True
            view.stale_since = connection.last_success_at
        day = max(block.start.astimezone(zone).date(), first)
        if day in by_day:
            by_day[day].busy.append(view)

    taken = sorted(
        busy_intervals(practitioner_id=practitioner.pk, start=start, end=end),
        key=lambda i: i.start,
    )
    for day, ranges in working_ranges_by_day(
        practitioner=practitioner, first=first, days=days
    ).items():
        by_day[day].closed = not ranges
        for begin, finish in ranges:
            lo, hi = resolve_local(day, begin, zone), resolve_local(day, finish, zone)
            if lo is None or hi is None:
                continue
            lo = max(lo, now)
            if lo >= hi:
                continue
            by_day[day].free.extend(
                Interval(a.astimezone(zone), b.astimezone(zone))
                for a, b in _subtract(lo, hi, taken)
            )
    return [by_day[d] for d in sorted(by_day)]


def _connection_source(source: str) -> str:
    # "ics:12" or "google:12:<calendar id>": the connection's busy_source is "kind:pk".
    return ":".join(source.split(":")[:2])


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
