"""Builders for test data: plain functions over the real services."""

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["UTC", "ZoneInfo"]

from scheduler.booking import ClientDetails
from scheduler.models import AppointmentType, Practitioner
from scheduler.practice import appointment_type_create, practitioner_create, weekly_rules_replace
from scheduler.tokens import token_issue
from scheduler.types import SessionSpec, SlotRules, WallRange

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_counter = itertools.count(1)


def practitioner(*, timezone="Europe/Amsterdam", hours=None, days=range(5)) -> Practitioner:
    """A practitioner working `hours` (default 09:00-12:30 and 13:30-17:00) on `days`."""
    n = next(_counter)
    person = practitioner_create(
        username=f"practitioner{n}",
        password="a-long-test-password",
        name=f"Practitioner {n}",
        timezone=timezone,
        slug=f"practitioner-{n}",
    )
    token_issue(user=person.user)  # as createpractitioner hands one out
    hours = hours or [(time(9), time(12, 30)), (time(13, 30), time(17))]
    weekly_rules_replace(
        practitioner=person,
        rules=[(day, start, end) for day in days for start, end in hours],
    )
    return person


def appointment_type(owner: Practitioner, **fields) -> AppointmentType:
    n = next(_counter)
    values = {"name": f"Type {n}", "slug": f"type-{n}", "duration_minutes": 30}
    values.update(fields)
    return appointment_type_create(practitioner=owner, **values)


def intake_series(owner: Practitioner, **fields) -> AppointmentType:
    """The BSR initial series: 60, 30 and 30 minutes on days 0, 3 and 10."""
    return appointment_type(
        owner,
        duration_minutes=60,
        series=[
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30},
            {"offset_days": 10, "duration_minutes": 30},
        ],
        **fields,
    )


def windowed_intake(owner: Practitioner, **fields) -> AppointmentType:
    """The demo's intake: 60, 30 and 30 minutes on days 0, 3 (2-4) and 10 (9-12)."""
    return appointment_type(
        owner,
        duration_minutes=60,
        series=[
            {"offset_days": 0, "duration_minutes": 60},
            {
                "offset_days": 3,
                "duration_minutes": 30,
                "window_before_days": 1,
                "window_after_days": 1,
            },
            {
                "offset_days": 10,
                "duration_minutes": 30,
                "window_before_days": 1,
                "window_after_days": 2,
            },
        ],
        **fields,
    )


def client(n: int = 0, **fields) -> ClientDetails:
    values = {"name": f"Client {n}", "email": f"client{n}@example.nl", "phone": "+31 6 1234 5678"}
    values.update(fields)
    return ClientDetails(**values)


def rules(
    *,
    tz: ZoneInfo = AMSTERDAM,
    weekly: dict[int, list[tuple[time, time]]] | None = None,
    overrides=None,
    sessions: tuple[tuple[int, ...], ...] = ((0, 60),),
    buffer_before: int = 0,
    buffer_after: int = 0,
    step: int | None = None,
    min_notice: int = 0,
    max_days_ahead: int = 3650,
) -> SlotRules:
    """SlotRules for the pure engine; durations and offsets in minutes and days. A session
    is (offset, minutes) or (offset, minutes, window_before_days, window_after_days)."""
    weekly = weekly if weekly is not None else {d: [(time(9), time(17))] for d in range(5)}
    return SlotRules(
        timezone=tz,
        weekly={d: tuple(WallRange(a, b) for a, b in r) for d, r in weekly.items()},
        overrides={
            day: tuple(WallRange(a, b) for a, b in r) for day, r in (overrides or {}).items()
        },
        series=tuple(
            SessionSpec(spec[0], timedelta(minutes=spec[1]), *spec[2:]) for spec in sessions
        ),
        buffer_before=timedelta(minutes=buffer_before),
        buffer_after=timedelta(minutes=buffer_after),
        step=timedelta(minutes=step or sessions[0][1]),
        min_notice=timedelta(minutes=min_notice),
        max_days_ahead=max_days_ahead,
    )


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)


def google_connection(fake, owner: Practitioner):
    """A Google connection of `owner` holding tokens the fake Google server issued."""
    from django.utils import timezone

    from sync.google.client import SCOPES
    from sync.google.tokens import encrypt_token
    from sync.models import CalendarConnection

    tokens = fake.issue_tokens(" ".join(SCOPES))
    return CalendarConnection.objects.create(
        practitioner=owner,
        kind=CalendarConnection.Kind.GOOGLE,
        name="Google Calendar",
        google_refresh_token=encrypt_token(tokens["refresh_token"]),
        google_access_token=encrypt_token(tokens["access_token"]),
        google_token_expiry=timezone.now() + timedelta(hours=1),
        busy_calendar_ids=["primary"],
    )
