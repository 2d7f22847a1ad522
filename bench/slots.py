"""Month-of-slots benchmark: how the slot query scales with stored history.

Builds a throwaway database (from DATABASE_URL; PostgreSQL is the one that matters),
then for 0, 1k, 10k and 100k existing sessions plus as many busy blocks measures one
month of slots for one appointment type: selectors + engine, the whole request-path
domain work. The month itself always holds the same bookings, so a flat line means the
cost follows the month's data, not the total history.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bsr .venv/bin/python bench/slots.py
"""

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from scheduler.models import BusyBlock, Session  # noqa: E402
from scheduler.selectors import slot_inputs  # noqa: E402
from scheduler.slots import available_slots  # noqa: E402

SIZES = [0, 1_000, 10_000, 100_000]
RUNS = 60
MONTH_START = date(2027, 3, 1)
MONTH_END = date(2027, 3, 31)
NOW = datetime(2027, 2, 27, 8, tzinfo=UTC)
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


def bench_booking(owner, appointment_type, n):
    from scheduler.models import Booking

    return Booking.objects.create(
        practitioner=owner,
        appointment_type=appointment_type,
        client_name="Bench",
        client_email="bench@example.nl",
        manage_token_hash=f"bench-{owner.pk}-{n}",
        created_at=NOW,
        updated_at=NOW,
    )


def add_history(owner, other, appointment_type, count):
    """`count` sessions and `count` busy blocks: the month's share fixed, the rest past."""
    sessions, blocks = [], []
    parents = {}

    def parent(person, i):
        key = (person.pk, i // SESSIONS_PER_BOOKING)
        if key not in parents:
            parents[key] = bench_booking(person, appointment_type, key[1])
        return parents[key]

    month_slots = [
        datetime(2027, 3, 1, 8, tzinfo=UTC) + timedelta(days=d, hours=h)
        for d in range(31)
        for h in (0, 5)
    ][:MONTH_BOOKINGS]
    history = max(count - MONTH_BOOKINGS, 0) if count else 0
    for i, start in enumerate(month_slots if count else []):
        sessions.append(_session(owner, parent(owner, i), start, i))
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
        start = datetime(2027, 2, 20, 8, tzinfo=UTC) - timedelta(hours=i)
        n = MONTH_BOOKINGS + i
        sessions.append(_session(person, parent(person, n), start, n % SESSIONS_PER_BOOKING))
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


def _session(owner, booking, start, position):
    end = start + timedelta(minutes=30)
    return Session(
        booking=booking,
        practitioner=owner,
        position=position,
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end + timedelta(minutes=10),
        updated_at=NOW,
    )


def measure(appointment_type):
    timings, queries, slots = [], 0, 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            inputs = slot_inputs(
                appointment_type=appointment_type, start=MONTH_START, end=MONTH_END
            )
            slots = len(available_slots(inputs, now=NOW, start=MONTH_START, end=MONTH_END))
            timings.append((time.perf_counter() - began) * 1000)
        queries = len(captured.captured_queries)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], queries, slots


def main():
    from django.db import transaction

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"database: {connection.vendor}; month {MONTH_START}..{MONTH_END}; {RUNS} runs each")
        print(
            f"{'stored sessions+blocks':>24} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} "
            f"{'slots':>6} {'p50 / empty':>12}"
        )
        baseline = None
        for size in SIZES:
            with transaction.atomic():
                owner, other, follow_up = build_practice()
                add_history(owner, other, follow_up, size)
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("ANALYZE")
                p50, p95, queries, slots = measure(follow_up)
                baseline = baseline or p50
                print(
                    f"{size:>12,} + {size:>9,} {p50:8.2f} {p95:8.2f} {queries:8d} {slots:6d} "
                    f"{p50 / baseline:11.2f}x"
                )
                transaction.set_rollback(True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
