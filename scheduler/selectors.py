"""Reads that feed the slot engine and the booking rules."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from scheduler.models import (
    AppointmentType,
    BusyBlock,
    DateOverride,
    Practitioner,
    Session,
    WeeklyRule,
)
from scheduler.slots import (
    SeriesOptions,
    available_slots,
    choose_sessions,
    find_slot,
    series_options,
)
from scheduler.types import (
    Interval,
    SessionSpec,
    Slot,
    SlotInputs,
    SlotRules,
    WallRange,
    WorkingHours,
    series_from_json,
)


def appointment_type_series(appointment_type: AppointmentType) -> tuple[SessionSpec, ...]:
    """The sessions one booking of this type makes: the series, or the single session."""
    if appointment_type.series:
        return series_from_json(appointment_type.series)
    return (SessionSpec(0, timedelta(minutes=appointment_type.duration_minutes)),)


def working_hours(*, practitioner: Practitioner, first_day: date, last_day: date) -> WorkingHours:
    """The practitioner's weekly hours, with the other hours of the dates from first_day to
    last_day (a day off: no ranges)."""
    weekly: dict[int, list[WallRange]] = defaultdict(list)
    for weekday, begin, finish in WeeklyRule.objects.filter(practitioner=practitioner).values_list(
        "weekday", "start", "end"
    ):
        weekly[weekday].append(WallRange(begin, finish))

    overrides: dict[date, list[WallRange]] = {}
    # One query: a closed day comes back once with null times (no ranges to join).
    for day, begin, finish in DateOverride.objects.filter(
        practitioner=practitioner, date__range=(first_day, last_day)
    ).values_list("date", "ranges__start", "ranges__end"):
        day_ranges = overrides.setdefault(day, [])
        if begin is not None:
            day_ranges.append(WallRange(begin, finish))

    return WorkingHours(
        timezone=practitioner.zone,
        weekly={day: tuple(sorted(ranges, key=_by_start)) for day, ranges in weekly.items()},
        overrides={day: tuple(sorted(ranges, key=_by_start)) for day, ranges in overrides.items()},
    )


def slot_rules(*, appointment_type: AppointmentType, first_day: date, last_day: date) -> SlotRules:
    """The practitioner's hours and the type's rules, with overrides for the days from
    first_day to the last session of a series starting on last_day."""
    series = appointment_type_series(appointment_type)
    through = last_day + timedelta(days=max(spec.latest_day for spec in series))
    hours = working_hours(
        practitioner=appointment_type.practitioner, first_day=first_day, last_day=through
    )
    return SlotRules(
        timezone=hours.timezone,
        weekly=hours.weekly,
        overrides=hours.overrides,
        series=series,
        buffer_before=timedelta(minutes=appointment_type.buffer_before_minutes),
        buffer_after=timedelta(minutes=appointment_type.buffer_after_minutes),
        step=timedelta(minutes=appointment_type.step_minutes),
        min_notice=timedelta(minutes=appointment_type.min_notice_minutes),
        max_days_ahead=appointment_type.max_days_ahead,
    )


def busy_intervals(
    *, practitioner_id: int, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> tuple[Interval, ...]:
    """Live sessions' blocked spans and mirrored busy blocks that touch [start, end).

    Both queries range-scan an index on (practitioner, end), so past history beyond the
    window is never read.
    """
    sessions = Session.objects.filter(
        practitioner_id=practitioner_id,
        blocked_end__gt=start,
        blocked_start__lt=end,
    ).exclude(status=Session.Status.CANCELLED)
    if exclude_booking_id is not None:
        sessions = sessions.exclude(booking_id=exclude_booking_id)
    blocks = BusyBlock.objects.filter(practitioner_id=practitioner_id, end__gt=start, start__lt=end)
    # Unordered: a compound query may not order its parts (SQLite), and nobody needs it.
    both = (
        sessions.order_by()
        .values_list("blocked_start", "blocked_end")
        .union(blocks.order_by().values_list("start", "end"), all=True)
    )
    return tuple(Interval(a, b) for a, b in both)


def slot_inputs(
    *,
    appointment_type: AppointmentType,
    first_day: date,
    last_day: date,
    exclude_booking_id: int | None = None,
) -> SlotInputs:
    """All the engine needs for slots whose first session falls on a local date in
    [first_day, last_day]."""
    rules = slot_rules(appointment_type=appointment_type, first_day=first_day, last_day=last_day)
    # A day later on both sides covers any UTC offset; the buffers widen it further.
    window_start = _utc_midnight(first_day - timedelta(days=1)) - rules.buffer_before
    window_end = (
        _utc_midnight(last_day + timedelta(days=rules.series_span_days + 2)) + rules.buffer_after
    )
    busy = busy_intervals(
        practitioner_id=appointment_type.practitioner_id,
        start=window_start,
        end=window_end,
        exclude_booking_id=exclude_booking_id,
    )
    return SlotInputs(rules=rules, busy=busy)


def slot_list(
    *,
    appointment_type: AppointmentType,
    first_day: date,
    last_day: date,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """The slots of a type whose first session falls on a local date in [first_day, last_day],
    as offered at `now`."""
    inputs = slot_inputs(
        appointment_type=appointment_type,
        first_day=first_day,
        last_day=last_day,
        exclude_booking_id=exclude_booking_id,
    )
    return available_slots(inputs, now=now, first_day=first_day, last_day=last_day)


def slot_find(
    *,
    appointment_type: AppointmentType,
    start: datetime,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> tuple[Slot | None, SlotRules]:
    """The slot starting at exactly the instant `start` if it is offered at `now` (else None),
    with the rules it was judged under."""
    day = start.astimezone(appointment_type.practitioner.zone).date()
    inputs = slot_inputs(
        appointment_type=appointment_type,
        first_day=day,
        last_day=day,
        exclude_booking_id=exclude_booking_id,
    )
    return find_slot(inputs, now=now, start=start), inputs.rules


def slot_options(
    *,
    appointment_type: AppointmentType,
    start: datetime,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> SeriesOptions | None:
    """For the slot starting at exactly `start` (None if it is not offered at `now`): the
    proposed set and every session's free starts inside its window."""
    day = start.astimezone(appointment_type.practitioner.zone).date()
    inputs = slot_inputs(
        appointment_type=appointment_type,
        first_day=day,
        last_day=day,
        exclude_booking_id=exclude_booking_id,
    )
    return series_options(inputs, now=now, start=start)


def slot_choose(
    *,
    appointment_type: AppointmentType,
    start: datetime,
    sessions: list[datetime] | None,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> tuple[Slot | None, SlotRules]:
    """Like slot_find, with the client's choice of every session's start (`sessions`, the
    first equal to `start`); without a choice, the proposed set. Raises InvalidSessions
    for a choice outside the windows or out of order; None when it is not free."""
    if sessions is None:
        return slot_find(
            appointment_type=appointment_type,
            start=start,
            now=now,
            exclude_booking_id=exclude_booking_id,
        )
    day = start.astimezone(appointment_type.practitioner.zone).date()
    inputs = slot_inputs(
        appointment_type=appointment_type,
        first_day=day,
        last_day=day,
        exclude_booking_id=exclude_booking_id,
    )
    return choose_sessions(inputs, now=now, start=start, starts=sessions), inputs.rules


def slot_next_free(
    *,
    appointment_type: AppointmentType,
    after_day: date,
    weeks: int,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> Slot | None:
    """The first slot on a local date after `after_day`, looking `weeks` weeks ahead."""
    later = slot_list(
        appointment_type=appointment_type,
        first_day=after_day + timedelta(days=1),
        last_day=after_day + timedelta(days=7 * weeks),
        now=now,
        exclude_booking_id=exclude_booking_id,
    )
    return later[0] if later else None


def slot_alternatives(
    *,
    appointment_type: AppointmentType,
    near: datetime,
    now: datetime,
    count: int = 3,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """The `count` free slots nearest to the instant `near` (from three days before to two
    weeks after it), in time order: what to offer when `near` was just taken."""
    day = near.astimezone(appointment_type.practitioner.zone).date()
    nearby = slot_list(
        appointment_type=appointment_type,
        first_day=day - timedelta(days=3),
        last_day=day + timedelta(days=14),
        now=now,
        exclude_booking_id=exclude_booking_id,
    )
    return sorted(sorted(nearby, key=lambda s: abs(s.start - near))[:count], key=lambda s: s.start)


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _by_start(wall: WallRange) -> time:
    return wall.start


def booking_list(
    *, practitioner_id: int, start: datetime, end: datetime, status: str | None = None
) -> list:
    """Bookings with a session starting in [start, end), sessions prefetched, by first start."""
    from django.db.models import Min, Prefetch

    from scheduler.models import Booking

    bookings = (
        Booking.objects.filter(
            practitioner_id=practitioner_id,
            sessions__start__gte=start,
            sessions__start__lt=end,
        )
        .select_related("appointment_type")
        .prefetch_related(Prefetch("sessions", queryset=Session.objects.order_by("position")))
        .annotate(first_start=Min("sessions__start"))
        .distinct()
        .order_by("first_start", "pk")
    )
    if status:
        bookings = bookings.filter(status=status)
    return list(bookings)


def busy_block_list(*, practitioner_id: int, start: datetime, end: datetime) -> list[BusyBlock]:
    """Mirrored busy time overlapping [start, end), in start order."""
    return list(
        BusyBlock.objects.filter(practitioner_id=practitioner_id, end__gt=start, start__lt=end)
        .only("start", "end", "source")
        .order_by("start")
    )
