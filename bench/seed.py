"""Test data for the benchmarks: a throwaway database, a practice with a long history."""

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def database_recreate(database_url: str, env: dict) -> None:
    """Drop and create the benchmark's own PostgreSQL database, then migrate it."""
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


MONTH_BOOKINGS = 60  # the same in every scenario: about three a working day
SESSIONS_PER_BOOKING = 1000


def build_practice():
    from tests import factories

    owner = factories.practitioner()
    other = factories.practitioner()
    follow_up = factories.appointment_type(
        owner, duration_minutes=30, buffer_after_minutes=10, max_days_ahead=90
    )
    return owner, other, follow_up


def bench_booking(owner, appointment_type, n, *, now):
    from scheduler.models import Booking

    return Booking.objects.create(
        practitioner=owner,
        appointment_type=appointment_type,
        client_name="Bench",
        client_email="bench@example.nl",
        manage_token_hash=f"bench-{owner.pk}-{n}",
        created_at=now,
        updated_at=now,
    )


def add_history(owner, other, appointment_type, count, *, month_start: date, now: datetime):
    """`count` sessions and `count` busy blocks: the month's share fixed, the rest past.

    The month from `month_start` always holds MONTH_BOOKINGS sessions (and as many busy
    blocks); the rest lie before it, alternating between `owner` and `other`.
    """
    from scheduler.models import BusyBlock, Session

    sessions, blocks = [], []
    parents = {}

    def parent(person, i):
        key = (person.pk, i // SESSIONS_PER_BOOKING)
        if key not in parents:
            parents[key] = bench_booking(person, appointment_type, key[1], now=now)
        return parents[key]

    month_slots = [
        datetime.combine(month_start, time(8), tzinfo=UTC) + timedelta(days=d, hours=h)
        for d in range(31)
        for h in (0, 5)
    ][:MONTH_BOOKINGS]
    history = max(count - MONTH_BOOKINGS, 0) if count else 0
    for i, start in enumerate(month_slots if count else []):
        sessions.append(_session(owner, parent(owner, i), start, i, now))
        blocks.append(
            BusyBlock(
                practitioner=owner,
                start=start + timedelta(hours=2),
                end=start + timedelta(hours=2, minutes=30),
                source="bench",
            )
        )
    for i in range(history):
        # Alternate practitioners; step back an hour each time from the month start.
        person = owner if i % 2 else other
        start = datetime.combine(month_start, time(8), tzinfo=UTC) - timedelta(days=9, hours=i)
        n = MONTH_BOOKINGS + i
        sessions.append(_session(person, parent(person, n), start, n % SESSIONS_PER_BOOKING, now))
        blocks.append(
            BusyBlock(
                practitioner=person,
                start=start - timedelta(days=4000),
                end=start - timedelta(days=4000) + timedelta(minutes=45),
                source="bench",
            )
        )
    Session.objects.bulk_create(sessions, batch_size=5000)
    BusyBlock.objects.bulk_create(blocks, batch_size=5000)


def _session(owner, booking, start, position, now):
    from scheduler.models import Session

    end = start + timedelta(minutes=30)
    return Session(
        booking=booking,
        practitioner=owner,
        position=position,
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end + timedelta(minutes=10),
        updated_at=now,
    )
