"""The week of free times a picker shows: the client's booking page and the workspace's
(booking for a client, moving a booking) page through weeks the same way."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.models import AppointmentType
from scheduler.selectors import slot_list
from scheduler.types import Slot
from web.params import monday_of


def week_to_show(asked: date | None, *, fallback: date | None = None, today: date) -> date:
    """The Monday of the week asked for, else of `fallback`, else this week; never a week
    that has gone by."""
    return max(monday_of(asked or fallback or today), monday_of(today))


def week_steps(monday: date, *, today: date, last_day: date) -> tuple[date | None, date | None]:
    """The Mondays of the previous and the next week, where the picker may go: not before
    this week, not past `last_day`."""
    previous = monday - timedelta(days=7) if monday > monday_of(today) else None
    following = monday + timedelta(days=7)
    return previous, following if following <= last_day else None


def week_days(slots: list[Slot], monday: date, zone: ZoneInfo) -> list[tuple[date, list[dict]]]:
    """The seven days from `monday`, each with its free times (slot_view) in `zone`."""
    by_day: dict[date, list[dict]] = {monday + timedelta(days=n): [] for n in range(7)}
    for slot in slots:
        day = slot.start.astimezone(zone).date()
        if day in by_day:
            by_day[day].append(slot_view(slot, zone))
    return list(by_day.items())


def slot_view(slot: Slot, zone: ZoneInfo) -> dict:
    """A free time as a picker offers it: its local start, the value the form sends back
    (read by web.params.instant_param) and every session's local start."""
    return {
        "start": slot.start.astimezone(zone),
        "value": int(slot.start.timestamp()),
        "sessions": [s.start.astimezone(zone) for s in slot.sessions],
    }


def week_slots(
    appointment_type: AppointmentType,
    monday: date,
    *,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> list[Slot]:
    """The free times of the week from `monday`, as offered at `now`."""
    return slot_list(
        appointment_type=appointment_type,
        first_day=monday,
        last_day=monday + timedelta(days=6),
        now=now,
        exclude_booking_id=exclude_booking_id,
    )
