"""Month-of-slots benchmark: how the slot query scales with stored history.

Builds a throwaway database (from DATABASE_URL; PostgreSQL is the one that matters),
then for 0, 1k, 10k and 100k existing sessions plus as many busy blocks measures one
month of slots for one appointment type: selectors + engine, the whole request-path
domain work. The month itself always holds the same bookings, so a flat line means the
cost follows the month's data, not the total history.

Then the demo's intake series twice in the same run: fixed offsets 0/3/10, and with the
follow-up windows 0 / 3 (-1..+1) / 10 (-1..+2), at 0, 10k and 100k history: the windowed
month should cost at most twice the fixed one and stay flat with history. Last, the share
of weekdays (and of working dates of the month) that can start an intake.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bsr .venv/bin/python bench/slots.py
"""

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.seed import add_history, build_practice  # noqa: E402
from scheduler.selectors import slot_list  # noqa: E402

SIZES = [0, 1_000, 10_000, 100_000]
SERIES_SIZES = [0, 10_000, 100_000]
RUNS = 60
SERIES_RUNS = 30
FIXED_SERIES = [
    {"offset_days": 0, "duration_minutes": 60},
    {"offset_days": 3, "duration_minutes": 30},
    {"offset_days": 10, "duration_minutes": 30},
]
WINDOWED_SERIES = [
    {"offset_days": 0, "duration_minutes": 60},
    {"offset_days": 3, "duration_minutes": 30, "window_before_days": 1, "window_after_days": 1},
    {"offset_days": 10, "duration_minutes": 30, "window_before_days": 1, "window_after_days": 2},
]
MONTH_START = date(2027, 3, 1)
MONTH_END = date(2027, 3, 31)
NOW = datetime(2027, 2, 27, 8, tzinfo=UTC)


def measure(appointment_type, runs=RUNS):
    timings, queries, slots = [], 0, 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            slots = len(
                slot_list(
                    appointment_type=appointment_type,
                    first_day=MONTH_START,
                    last_day=MONTH_END,
                    now=NOW,
                )
            )
            timings.append((time.perf_counter() - began) * 1000)
        queries = len(captured.captured_queries)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], queries, slots


def intakes(owner):
    """The demo's intake (60/30/30, 30-minute step, 15 minutes after, 12 h notice), fixed
    and windowed."""
    from tests import factories

    shape = {
        "duration_minutes": 60,
        "slot_step_minutes": 30,
        "buffer_after_minutes": 15,
        "min_notice_minutes": 12 * 60,
        "max_days_ahead": 90,
    }
    fixed = factories.appointment_type(owner, series=FIXED_SERIES, **shape)
    windowed = factories.appointment_type(owner, series=WINDOWED_SERIES, **shape)
    return fixed, windowed


def starting_days(appointment_type):
    """(weekdays Mon-Fri that start an intake, working dates of the month that do, of all)."""
    from datetime import timedelta

    slots = slot_list(
        appointment_type=appointment_type, first_day=MONTH_START, last_day=MONTH_END, now=NOW
    )
    zone = appointment_type.practitioner.zone
    dates = {s.start.astimezone(zone).date() for s in slots}
    working = [
        MONTH_START + timedelta(days=i)
        for i in range((MONTH_END - MONTH_START).days + 1)
        if (MONTH_START + timedelta(days=i)).weekday() < 5
    ]
    return len({d.weekday() for d in dates}), len(dates), len(working)


def series_part():
    from django.db import transaction

    print()
    print(f"intake series, month view; {SERIES_RUNS} runs each")
    print(
        f"{'stored sessions+blocks':>24} {'fixed p50':>10} {'windowed p50':>13} "
        f"{'windowed/fixed':>15} {'queries':>8} {'slots f/w':>10} {'w p50 / empty':>14}"
    )
    baseline = None
    for size in SERIES_SIZES:
        with transaction.atomic():
            owner, other, follow_up = build_practice()
            fixed, windowed = intakes(owner)
            add_history(owner, other, follow_up, size, month_start=MONTH_START, now=NOW)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            f50, _, _, f_slots = measure(fixed, SERIES_RUNS)
            w50, _, w_queries, w_slots = measure(windowed, SERIES_RUNS)
            baseline = baseline or w50
            print(
                f"{size:>12,} + {size:>9,} {f50:10.2f} {w50:13.2f} {w50 / f50:14.2f}x "
                f"{w_queries:8d} {f_slots:>4d}/{w_slots:<5d} {w50 / baseline:13.2f}x"
            )
            if size == 0:
                days = {
                    name: starting_days(t) for name, t in (("fixed", fixed), ("windowed", windowed))
                }
            transaction.set_rollback(True)
    print()
    print("weekdays that can start an intake (demo hours Mon-Fri, empty agenda, March 2027)")
    for name, (weekdays, dates, working) in days.items():
        print(f"  {name:>9}: {weekdays} of 5 weekdays; {dates} of {working} working dates")


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
                add_history(owner, other, follow_up, size, month_start=MONTH_START, now=NOW)
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
        series_part()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
