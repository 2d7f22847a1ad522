"""The management commands, called as an operator would."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from scheduler.models import AppointmentType, Booking, Practitioner, WeeklyRule

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_createpractitioner_creates_login_profile_and_prints_token_last():
    lines = run(
        "createpractitioner",
        "anna",
        "--password",
        "s3cret-enough",
        "--name",
        "Anna de Vries",
        "--timezone",
        "Europe/Amsterdam",
        "--email",
        "anna@example.nl",
    )
    practitioner = Practitioner.objects.get(user__username="anna")
    assert practitioner.slug == "anna-de-vries" and practitioner.timezone == "Europe/Amsterdam"
    assert lines[-1] == Token.objects.get(user=practitioner.user).key
    assert authenticate(username="anna", password="s3cret-enough") == practitioner.user


def test_createpractitioner_takes_an_explicit_slug():
    run(
        "createpractitioner",
        "bob",
        "--password",
        "pw-long-enough",
        "--name",
        "Bob",
        "--timezone",
        "Australia/Sydney",
        "--slug",
        "bob-bsr",
    )
    assert Practitioner.objects.get(slug="bob-bsr").timezone == "Australia/Sydney"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "Mars/Olympus"], "Unknown time zone"),
        (["--timezone", "Europe/Amsterdam", "--slug", "not a slug"], "slug"),
        (["--timezone", "Europe/Amsterdam", "--email", "nope"], "email"),
    ],
)
def test_createpractitioner_refuses_bad_input_and_stores_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run("createpractitioner", "carol", "--password", "pw-long-enough", "--name", "Carol", *args)
    assert not Practitioner.objects.exists()
    assert not Token.objects.exists()


def test_createpractitioner_refuses_an_existing_username():
    base = ["--password", "pw-long-enough", "--name", "Dora", "--timezone", "UTC"]
    run("createpractitioner", "dora", *base)
    with pytest.raises(CommandError, match="already exists"):
        run("createpractitioner", "dora", *base[:3], "Dora Two", *base[4:])
    assert Practitioner.objects.count() == 1


def test_demo_loads_a_practice_once_and_prints_where_to_look(frozen_day):  # books from today
    first = "\n".join(run("demo"))
    practitioner = Practitioner.objects.get()
    assert practitioner.timezone == "Europe/Amsterdam"
    assert WeeklyRule.objects.filter(practitioner=practitioner).count() == 10  # Mon-Fri x2
    series = AppointmentType.objects.get(series__isnull=False)
    assert [s["offset_days"] for s in series.series] == [0, 3, 10]
    assert [s["duration_minutes"] for s in series.series] == [60, 30, 30]
    assert AppointmentType.objects.get(series__isnull=True).duration_minutes == 30
    assert Booking.objects.count() >= 1
    assert "/admin/" in first and "API token" in first
    second = "\n".join(run("demo"))
    assert "already loaded" in second
    assert Practitioner.objects.count() == 1
