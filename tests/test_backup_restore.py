"""The documented backup routine restores into a fresh PostgreSQL database with every booking."""

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from scheduler.booking import booking_cancel, booking_create
from scheduler.models import Booking, Session
from scheduler.selectors import slot_list
from tests import factories
from tests.page.conftest import next_monday

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _url(name: str) -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def test_backup_script_dump_restores_every_booking(frozen_clock, tmp_path):
    owner = factories.practitioner()
    series = factories.intake_series(owner)
    follow_up = factories.appointment_type(owner, duration_minutes=30)
    day = next_monday()
    starts = [
        s.start
        for s in slot_list(
            appointment_type=follow_up, first_day=day, last_day=day, now=timezone.now()
        )
    ]
    booked = [
        booking_create(
            appointment_type=follow_up, start=s, now=timezone.now(), client=factories.client(n)
        ).booking
        for n, s in enumerate(starts[:6])
    ]
    booking_cancel(booking=booked[0], now=timezone.now())
    tuesday = day + timedelta(days=1)
    first = slot_list(
        appointment_type=series, first_day=tuesday, last_day=tuesday, now=timezone.now()
    )[0]
    booking_create(
        appointment_type=series, start=first.start, now=timezone.now(), client=factories.client(99)
    )
    expected = sorted(Session.objects.values_list("booking_id", "start", "status"))

    env = {
        **os.environ,
        "DATABASE_URL": _url(connection.settings_dict["NAME"]),
        "BACKUP_DIR": str(tmp_path),
    }
    dump = subprocess.run(
        [str(ROOT / "scripts" / "backup")], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    restored = f"{connection.settings_dict['NAME']}_restored"
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run(["pg_restore", "--no-owner", "-d", _url(restored), dump], check=True)
        with psycopg.connect(_url(restored)) as db:
            got = sorted(
                db.execute("SELECT booking_id, start, status FROM scheduler_session").fetchall()
            )
            bookings = db.execute("SELECT count(*) FROM scheduler_booking").fetchone()[0]
            constraint = db.execute(
                "SELECT 1 FROM pg_constraint WHERE conname = 'session_no_overlap'"
            ).fetchone()
        assert got == expected
        assert bookings == Booking.objects.count() == 7
        assert constraint is not None  # the no-double-booking guarantee comes back too
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
