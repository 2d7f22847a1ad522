"""Server time of every workspace page for a practitioner with 10k stored sessions.

In-process through Django's test client (middleware, queries, templates; no network),
on PostgreSQL, each page asked REPEAT times after a warm-up; prints median and p95 in ms
and the number of queries. The bar: under 100 ms.

    .venv/bin/python bench/workspace.py   [BENCH_DATABASE_URL=postgres://...]  [BENCH_REPEAT=30]
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import database_recreate  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bsr_bench_workspace"
)
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
# add_history alternates its past sessions between two practitioners: 10k each.
HISTORY = 20_000
ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "DJANGO_SETTINGS_MODULE": "config.settings.local",
    "DEBUG": "0",
    "THROTTLE_ENABLED": "0",
    "ALLOWED_HOSTS": "testserver,127.0.0.1",
    "LOG_LEVEL": "ERROR",
    "VAR_DIR": str(ROOT / "var" / "bench-workspace"),
    "CELERY_TASK_ALWAYS_EAGER": "0",
}


def main():
    database_recreate(DATABASE_URL, ENV)
    os.environ.update(ENV)
    import django

    django.setup()
    from django.core import signals
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.utils import timezone

    from bench.seed import add_history, build_practice
    from scheduler.booking import booking_create
    from scheduler.models import BusyBlock, Question
    from scheduler.selectors import slot_list
    from tests import factories

    now = timezone.now()
    month_start = (now + timedelta(days=3)).date()
    owner, other, follow_up = build_practice()
    add_history(owner, other, follow_up, HISTORY, month_start=month_start, now=now)
    series = factories.intake_series(owner, name="Eerste reeks")
    for n in range(200):
        Question.objects.create(
            practitioner=owner,
            name=f"Vraag {n}",
            email=f"v{n}@example.nl",
            message="Een vraag " * 20,
            created_at=now - timedelta(hours=n),
        )
    day = month_start + timedelta(days=1)
    slot = slot_list(
        appointment_type=series, first_day=day, last_day=day + timedelta(days=13), now=now
    )[0]
    booking = booking_create(
        appointment_type=series, start=slot.start, client=factories.client(1), now=now
    ).booking
    # One connection throughout, as a web process keeps it (CONN_MAX_AGE).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    sessions = owner.sessions.count()
    blocks = BusyBlock.objects.filter(practitioner=owner).count()
    client = Client()
    client.force_login(owner.user)
    week = month_start.isoformat()
    pages = {
        "agenda (week, 10k history)": f"/praktijk/?date={week}",
        "agenda (day)": f"/praktijk/?span=day&date={week}",
        "booking (series of 3)": f"/praktijk/afspraken/{booking.pk}/",
        "book: choose type": "/praktijk/afspraak-maken/",
        "book: week picker (series)": f"/praktijk/afspraak-maken/{series.pk}/?week={week}",
        "hours (+ next week preview)": "/praktijk/uren/",
        "days off": "/praktijk/vrije-dagen/",
        "types": "/praktijk/soorten/",
        "type form": f"/praktijk/soorten/{series.pk}/",
        "calendars": "/praktijk/agendas/",
        "questions (200)": "/praktijk/vragen/",
    }
    print(f"practitioner with {sessions} sessions and {blocks} busy blocks; {REPEAT} runs each")
    print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    worst = 0.0
    for name, url in pages.items():
        assert client.get(url).status_code == 200, url
        queries = []

        def count(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        timings = []
        for _ in range(REPEAT):
            begin = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - begin) * 1000)
        timings.sort()
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        worst = max(worst, p95)
        print(f"{name:32} {statistics.median(timings):10.1f} {p95:8.1f} {len(queries):8d}")
    print(f"slowest p95: {worst:.1f} ms ({'under' if worst < 100 else 'OVER'} 100 ms)")


if __name__ == "__main__":
    main()
