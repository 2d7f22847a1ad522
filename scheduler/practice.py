"""Writes that set up a practice: practitioners, their hours and appointment types."""

import itertools
from collections.abc import Iterable
from datetime import time

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from scheduler.models import AppointmentType, Practitioner, WeeklyRule


def practitioner_create(
    *,
    username: str,
    password: str,
    name: str,
    timezone: str,
    slug: str | None = None,
    email: str = "",
) -> tuple[Practitioner, str]:
    """Create the user, its practitioner profile and API token; return both."""
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
        token = Token.objects.create(user=user)
    return practitioner, token.key


def weekly_rules_replace(
    *, practitioner: Practitioner, rules: Iterable[tuple[int, time, time]]
) -> list[WeeklyRule]:
    """Replace all weekly rules at once. Overlapping ranges on one weekday are refused."""
    new = sorted(rules)
    for (day_a, _, end_a), (day_b, start_b, _) in itertools.pairwise(new):
        if day_a == day_b and start_b < end_a:
            raise ValidationError(f"Ranges on weekday {day_a} overlap.")
    rows = [WeeklyRule(practitioner=practitioner, weekday=d, start=s, end=e) for d, s, e in new]
    for row in rows:
        row.full_clean(exclude=["practitioner"])
    with transaction.atomic():
        WeeklyRule.objects.filter(practitioner=practitioner).delete()
        return WeeklyRule.objects.bulk_create(rows)


def appointment_type_create(*, practitioner: Practitioner, **fields) -> AppointmentType:
    appointment_type = AppointmentType(practitioner=practitioner, **fields)
    appointment_type.full_clean()
    appointment_type.save()
    return appointment_type
