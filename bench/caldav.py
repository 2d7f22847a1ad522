"""CalDAV sync benchmark against a real Radicale on 127.0.0.1 (tests/fakes/caldav_server).

1. booking -> event on the CalDAV server: a real Celery worker (Redis broker, a private
   db) delivers the outbox after each commit; prints p50/p95 seconds from commit to the
   event existing on the server. Goal: p95 < 2 s.
2. pull of a 5,000-event calendar: full sync, then an incremental sync (sync-collection)
   after 50 changes. Goal: incremental < 0.2 s.

    .venv/bin/python bench/caldav.py   [BENCH_DATABASE_URL=postgres://...]
                                       [BENCH_BROKER_URL=redis://127.0.0.1:6379/6]
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named like the python-caldav package: keep bench/ itself off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.seed import database_recreate  # noqa: E402
from tests.fakes.caldav_server import PASSWORD, USER, RadicaleServer  # noqa: E402
from tests.processes import worker_command  # noqa: E402

BOOKINGS = 40
EVENTS = 5_000
CHANGES = 50
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bsr_bench_caldav"
)
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6")


def main():
    server = RadicaleServer()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "ICS_ALLOW_PRIVATE_URLS": "1",
        "ICS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "VAR_DIR": str(ROOT / "var" / "bench-caldav"),
    }
    try:
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
            connection, follow_up = _seed(server)
            time.sleep(3)  # the worker connects to the broker
            _push_case(server, follow_up)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        _pull_case(server, connection)
    finally:
        server.stop()


def _seed(server):
    from datetime import time as dtime

    from django.utils import timezone

    from sync.caldav import service
    from tests import factories

    server.make_calendar("work", "Werk")
    server.make_calendar("busy", "Bezet")
    person = factories.practitioner(hours=[(dtime(0), dtime(23, 45))], days=range(7))
    follow_up = factories.appointment_type(person, duration_minutes=15, max_days_ahead=60)
    connection = service.caldav_connection_create(
        practitioner=person, url=server.url + "/", username=USER, password=PASSWORD
    )
    assert service.caldav_connection_setup(connection=connection, now=timezone.now())
    connection = service.caldav_connection_update(
        connection=connection,
        now=timezone.now(),
        push_calendar_id=f"{server.url}/{USER}/work/",
        busy_calendar_ids=[f"{server.url}/{USER}/busy/"],
    )
    return connection, follow_up


def _push_case(server, follow_up):
    from django.utils import timezone

    from scheduler.booking import ClientDetails, booking_create
    from scheduler.selectors import slot_list
    from sync.caldav.push import resource_name

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
    http = server.session()
    samples = []
    for n, start in enumerate(starts[:BOOKINGS]):
        booking = booking_create(
            appointment_type=follow_up,
            start=start,
            client=ClientDetails(name=f"B{n}", email=f"b{n}@example.nl"),
            now=timezone.now(),
        ).booking
        committed = time.perf_counter()
        wanted = f"{server.url}/{USER}/work/{resource_name(booking.sessions.get())}"
        while http.get(wanted, timeout=5).status_code != 200:
            if time.perf_counter() - committed > 30:
                raise SystemExit("an event did not arrive within 30 s")
            time.sleep(0.01)
        samples.append(time.perf_counter() - committed)
    samples.sort()
    print(
        f"booking -> CalDAV event, {len(samples)} bookings, one worker (solo pool): "
        f"p50 {statistics.median(samples):.3f} s, p95 {samples[int(len(samples) * 0.95) - 1]:.3f} s"
    )


def _event(i: int, begin) -> str:
    end = begin + timedelta(minutes=10)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:bench-{i}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{begin.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{end.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:Event {i}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


WAITED = [0.0]  # seconds spent waiting for Radicale's answers, in the pull being timed


def _timed_requests():
    """Count how much of a pull is the server's time (Radicale recomputes the state of
    the whole collection for every sync-collection REPORT and PROPFIND)."""
    from sync.caldav import client

    plain = client.Dav.request

    def request(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return plain(self, *args, **kwargs)
        finally:
            WAITED[0] += time.perf_counter() - began

    client.Dav.request = request


def _pull(service, connection, now):
    WAITED[0] = 0.0
    began = time.perf_counter()
    service.caldav_connection_pull(connection=connection, now=now, force=True)
    return time.perf_counter() - began, WAITED[0]


def _pull_case(server, connection):
    from django.utils import timezone

    from scheduler.models import BusyBlock
    from sync.caldav import service

    _timed_requests()

    now = timezone.now().replace(microsecond=0)
    # 5,000 objects written straight into Radicale's storage (PUT one by one only costs
    # the benchmark time); the 50 changes below go over HTTP like any client's.
    folder = server.folder / "collections" / "collection-root" / USER / "busy"
    for i in range(EVENTS):
        begin = now + timedelta(hours=2, minutes=30 * i)
        (folder / f"bench-{i}.ics").write_text(_event(i, begin), newline="")
    # Radicale builds its item cache on the first listing of files it did not write.
    server.session().request("PROPFIND", f"{server.url}/{USER}/busy/", headers={"Depth": "1"})
    full, full_wait = _pull(service, connection, timezone.now())
    stored = BusyBlock.objects.filter(source__startswith="caldav:").count()
    connection.refresh_from_db()
    assert connection.status == "ok", connection.last_error
    unchanged, unchanged_wait = _pull(service, connection, timezone.now())
    for i in range(CHANGES):
        begin = now + timedelta(hours=2, minutes=30 * i + 15)
        server.put(f"/{USER}/busy/", f"bench-{i}.ics", _event(i, begin))
    incremental, incremental_wait = _pull(service, connection, timezone.now())
    connection.refresh_from_db()
    assert connection.status == "ok", connection.last_error
    moved = BusyBlock.objects.filter(
        source__startswith="caldav:", start=now + timedelta(hours=2, minutes=15)
    ).count()
    left = BusyBlock.objects.filter(source__startswith="caldav:").count()
    print(
        f"pull, {EVENTS} events: full {full:.2f} s ({full_wait:.2f} s of it waiting for "
        f"Radicale; {stored} busy blocks)\n"
        f"  unchanged {unchanged:.3f} s ({unchanged_wait:.3f} s Radicale)\n"
        f"  incremental after {CHANGES} changes {incremental:.3f} s "
        f"({incremental_wait:.3f} s Radicale, {incremental - incremental_wait:.3f} s ours; "
        f"{left} busy blocks, moved ones found: {moved == 1})"
    )


if __name__ == "__main__":
    main()
