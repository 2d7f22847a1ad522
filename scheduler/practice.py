"""Writes that set up a practice: practitioners, their hours and appointment types."""

import datetime as dt
import itertools
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone as django_timezone
from django.utils.text import slugify

from scheduler.exceptions import AppointmentTypeInUse
from scheduler.models import (
    AppointmentType,
    DateOverride,
    DateOverrideRange,
    Practitioner,
    WeeklyRule,
)


def schedule_changed(practitioner_id: int) -> None:
    """Record that this practitioner's slots may have changed.

    Cached slot answers are keyed by the version this bumps. Inside a transaction the
    UPDATE also holds the practitioner's row lock until commit, which is what serialises
    bookings for one practitioner. Every write that can change slots or feeds calls it.
    """
    Practitioner.objects.filter(pk=practitioner_id).update(
        schedule_version=F("schedule_version") + 1, schedule_changed_at=django_timezone.now()
    )


def practitioner_lock(practitioner_id: int) -> Practitioner | None:
    """Lock the practitioner's row until the transaction ends; the practitioner, or None if
    there is none.

    Every write that must see all earlier bookings of one practitioner takes it first
    (booking, cancelling, rescheduling, the wait list's offers), so they run one at a time.
    On SQLite the IMMEDIATE transaction already serialises writes."""
    return Practitioner.objects.select_for_update().filter(pk=practitioner_id).first()


def account_lock(user_id: int) -> None:
    """Lock the user's row until the transaction ends: what must happen once per account
    however many requests arrive at once (a token rotation, the login lock's e-mail) waits
    here. On SQLite the IMMEDIATE transaction already serialises writes."""
    list(
        get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True)
    )


def practitioner_create(
    *,
    username: str,
    password: str,
    name: str,
    timezone: str,
    slug: str | None = None,
    email: str = "",
) -> Practitioner:
    """Create the user and its practitioner profile (the API token is handed out by
    whoever needs it: the createpractitioner command, the API's login)."""
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.filter(username=username).exists():
            raise ValidationError({"username": f"A user named {username!r} already exists."})
        user = user_model(username=username, email=email)
        user.set_password(password)
        user.full_clean()
        user.save()
        practitioner = Practitioner(
            user=user, name=name, slug=slug or slugify(name), timezone=timezone, email=email
        )
        practitioner.full_clean()
        practitioner.save()
    return practitioner


def practitioner_timezone_set(*, practitioner: Practitioner, timezone: str) -> Practitioner:
    """Change the zone the wall-clock rules are read in; booked instants do not move."""
    practitioner.timezone = timezone
    practitioner.full_clean(validate_unique=False)
    practitioner.save(update_fields=["timezone"])
    schedule_changed(practitioner.pk)
    return practitioner


def weekly_rules_replace(
    *, practitioner: Practitioner, rules: Iterable[tuple[int, dt.time, dt.time]]
) -> list[WeeklyRule]:
    """Replace all weekly rules at once. Overlapping ranges on one weekday are refused."""
    new = sorted(rules)
    for weekday, ranges in itertools.groupby(new, key=lambda rule: rule[0]):
        _check_disjoint([(start, end) for _, start, end in ranges], f"weekday {weekday}")
    rows = [WeeklyRule(practitioner=practitioner, weekday=d, start=s, end=e) for d, s, e in new]
    for row in rows:
        row.full_clean(exclude=["practitioner"])
    with transaction.atomic():
        WeeklyRule.objects.filter(practitioner=practitioner).delete()
        schedule_changed(practitioner.pk)
        return WeeklyRule.objects.bulk_create(rows)


def weekly_availability_set(
    *,
    practitioner: Practitioner,
    rules: Iterable[tuple[int, dt.time, dt.time]],
    timezone: str | None = None,
) -> list[WeeklyRule]:
    """Set the zone (if given) and replace the weekly rules, both or neither."""
    with transaction.atomic():
        if timezone is not None:
            practitioner_timezone_set(practitioner=practitioner, timezone=timezone)
        return weekly_rules_replace(practitioner=practitioner, rules=rules)


def date_override_save(
    *,
    practitioner: Practitioner,
    date: dt.date,
    ranges: Iterable[tuple[dt.time, dt.time]],
    override: DateOverride | None = None,
) -> DateOverride:
    """Create or replace one date's hours; no ranges closes the day."""
    ranges = sorted(ranges)
    _check_disjoint(ranges, str(date))
    for start, end in ranges:
        if start >= end:
            raise ValidationError(
                {"ranges": f"{start:%H:%M}-{end:%H:%M}: start must be before end."}
            )
    try:
        with transaction.atomic():
            override = override or DateOverride(practitioner=practitioner)
            override.date = date
            override.save()
            override.ranges.all().delete()
            DateOverrideRange.objects.bulk_create(
                DateOverrideRange(override=override, start=start, end=end) for start, end in ranges
            )
            schedule_changed(practitioner.pk)
    except IntegrityError as exc:
        raise ValidationError({"date": f"{date} already has an override."}) from exc
    return override


def date_override_delete(*, override: DateOverride) -> None:
    with transaction.atomic():
        override.delete()
        schedule_changed(override.practitioner_id)


def appointment_type_create(*, practitioner: Practitioner, **fields) -> AppointmentType:
    appointment_type = AppointmentType(practitioner=practitioner, **fields)
    _save_type(appointment_type)
    return appointment_type


def appointment_type_update(*, appointment_type: AppointmentType, **fields) -> AppointmentType:
    """Change a type. Existing bookings keep their times; new slots follow the change."""
    for name, value in fields.items():
        setattr(appointment_type, name, value)
    _save_type(appointment_type)
    return appointment_type


def appointment_type_delete(*, appointment_type: AppointmentType) -> None:
    """Delete a type nobody booked; a booked type can only be deactivated."""
    if appointment_type.bookings.exists():
        raise AppointmentTypeInUse()
    with transaction.atomic():
        appointment_type.delete()
        schedule_changed(appointment_type.practitioner_id)


def _save_type(appointment_type: AppointmentType) -> None:
    if appointment_type.series:
        first = appointment_type.series[0]
        # The first session is the booking's own span, so it defines duration_minutes.
        if isinstance(first, dict) and isinstance(first.get("duration_minutes"), int):
            appointment_type.duration_minutes = first["duration_minutes"]
    if not appointment_type.slug:
        appointment_type.slug = slugify(appointment_type.name)[:50]
    appointment_type.full_clean()
    with transaction.atomic():
        appointment_type.save()
        schedule_changed(appointment_type.practitioner_id)


def _check_disjoint(ranges: list[tuple[dt.time, dt.time]], where: str) -> None:
    for (_, end_a), (start_b, _) in itertools.pairwise(sorted(ranges)):
        if start_b < end_a:
            raise ValidationError(f"Ranges on {where} overlap.")
