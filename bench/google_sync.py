"""Google sync benchmark against the fake Google server (tests/fakes), over loopback.

1. booking -> event in Google: a real Celery worker (Redis broker) drains the outbox after
   each commit; prints p50/p95 seconds from commit to the event existing on the fake.
2. pull of a 5,000-event calendar: full sync, then an incremental sync after 50 changes.

    .venv/bin/python bench/google_sync.py   [BENCH_DATABASE_URL=postgres://...]
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import database_recreate  # noqa: E402
from tests.fakes.google_server import FakeGoogleCalendar  # noqa: E402
from tests.processes import worker_command  # noqa: E402

BOOKINGS = 40
EVENTS = 5_000
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bsr_bench_google"
)
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")


def main():
    fake = FakeGoogleCalendar().start()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "GOOGLE_CLIENT_ID": fake.client_id,
        "GOOGLE_CLIENT_SECRET": fake.client_secret,
        "GOOGLE_TOKEN_URI": fake.token_uri,
        "GOOGLE_AUTH_URI": fake.auth_uri,
        "GOOGLE_REVOKE_URI": fake.revoke_uri,
        "GOOGLE_API_ENDPOINT": fake.api_endpoint,
        "VAR_DIR": str(ROOT / "var" / "bench-google"),
    }
    database_recreate(DATABASE_URL, env)
    os.environ.update(env)
    import django

    django.setup()
    worker = subprocess.Popen(
        worker_command(None, loglevel="WARNING"),
        cwd=ROOT,
        env=env,
    )
    try:
        connection, follow_up = _seed(fake)
        time.sleep(3)  # the worker connects to the broker
        _push_case(fake, follow_up)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    _pull_case(fake, connection)
    fake.stop()


def _seed(fake):
    from datetime import time as dtime

    from tests import factories

    person = factories.practitioner(hours=[(dtime(0), dtime(23, 45))], days=range(7))
    follow_up = factories.appointment_type(person, duration_minutes=15, max_days_ahead=60)
    connection = factories.google_connection(fake, person)
    return connection, follow_up


def _push_case(fake, follow_up):
    from django.utils import timezone

    from scheduler.booking import ClientDetails, booking_create
    from scheduler.selectors import slot_list
    from sync.google.push import event_id_for

    day = timezone.localdate() + timedelta(days=2)
    starts = [
        s.start
        for s in slot_list(
            appointment_type=follow_up,
            first_day=day,
            last_day=day + timedelta(days=3),
            now=timezone.now(),
        )
    ]
    samples = []
    for n, start in enumerate(starts[:BOOKINGS]):
        booking = booking_create(
            appointment_type=follow_up,
            start=start,
            client=ClientDetails(name=f"B{n}", email=f"b{n}@example.nl"),
            now=timezone.now(),
        ).booking
        committed = time.perf_counter()
        wanted = event_id_for(booking.sessions.get())
        while wanted not in fake.events("primary"):
            if time.perf_counter() - committed > 30:
                raise SystemExit("an event did not arrive within 30 s")
            time.sleep(0.005)
        samples.append(time.perf_counter() - committed)
    samples.sort()
    print(
        f"booking -> Google event, {len(samples)} bookings, one worker (solo pool): "
        f"p50 {statistics.median(samples):.3f} s, p95 {samples[int(len(samples) * 0.95) - 1]:.3f} s"
    )


def _pull_case(fake, connection):
    from django.utils import timezone

    from scheduler.models import BusyBlock
    from sync.google.pull import google_connection_pull

    now = timezone.now()
    ids = []
    for i in range(EVENTS):
        begin = now + timedelta(hours=2 + i % 2000, minutes=(i // 2000) * 15)
        created = fake.insert_event(
            "primary",
            {
                "summary": f"Event {i}",
                "start": {"dateTime": begin.isoformat()},
                "end": {"dateTime": (begin + timedelta(minutes=10)).isoformat()},
            },
        )
        ids.append(created["id"])
    began = time.perf_counter()
    google_connection_pull(connection=connection, now=timezone.now())
    full = time.perf_counter() - began
    stored = BusyBlock.objects.filter(source__startswith="google:").count()
    for event_id in ids[:50]:
        fake.patch_event("primary", event_id, {"transparency": "transparent"})
    began = time.perf_counter()
    google_connection_pull(connection=connection, now=timezone.now())
    incremental = time.perf_counter() - began
    left = BusyBlock.objects.filter(source__startswith="google:").count()
    print(
        f"pull, {EVENTS} events: full {full:.2f} s ({stored} busy blocks); "
        f"incremental after 50 changes {incremental:.3f} s ({left} busy blocks left)"
    )


if __name__ == "__main__":
    main()
