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
RUNS = 60
MONTH_START = date(2027, 3, 1)
MONTH_END = date(2027, 3, 31)
NOW = datetime(2027, 2, 27, 8, tzinfo=UTC)


def measure(appointment_type):
    timings, queries, slots = [], 0, 0
    for _ in range(RUNS):
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
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
