"""CalDAV sync benchmark against a real Radicale on 127.0.0.1 (tests/fakes/caldav_server).

1. booking -> event on the CalDAV server: a real Celery worker (Redis broker, a private
   db) delivers the outbox after each commit; prints p50/p95 seconds from commit to the
   event existing on the server. Goal: p95 < 2 s.
2. pull of a 5,000-event calendar: full sync, then an incremental sync (sync-collection)
   after 50 changes. Goal: incremental < 0.2 s.
3. a hostile server (FaultProxy.answer_with), as `synccalendars` meets it, in this
   process: a PROPFIND answered with 1.5 MB of gzip that inflates to 1.5 GB, at discovery
   and at the calendar listing, and a multiget answer of 110,000 events (14 MB). Prints
   this process's peak resident memory above where it started, the time, and what the
   connection says. Goal: each ends in the connection's error, under 100 MB.

    .venv/bin/python bench/caldav.py   [BENCH_DATABASE_URL=postgres://...]
                                       [BENCH_BROKER_URL=redis://127.0.0.1:6379/6]
                                       [--hostile-only]
"""

import contextlib
import os
import statistics
import subprocess
import sys
import threading
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
        if "--hostile-only" in sys.argv:
            _hostile_case(server)
            return
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
        _hostile_case(server)
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


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def _peak():
    """This process's peak resident memory above the start (clear_refs resets VmHWM), and
    when it first passed 500 MB above the start (sampled every 20 ms)."""
    seen = {"crossed": None}
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    base, began, done = _status_mb("VmRSS"), time.perf_counter(), threading.Event()

    def sample():
        while not done.wait(0.02):
            if seen["crossed"] is None and _status_mb("VmRSS") - base > 500:
                seen["crossed"] = time.perf_counter() - began

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()
        seen["mb"] = _status_mb("VmHWM") - base
        seen["seconds"] = time.perf_counter() - began


def _hostile_case(server):
    from django.utils import timezone

    from scheduler.models import BusyBlock
    from sync.caldav import service
    from sync.models import CalendarConnection
    from tests import factories
    from tests.fakes.caldav_server import FaultProxy, gzip_bomb, multistatus

    user, password = "hostile", "hostile-pw"
    server.add_user(user, password)
    calendar = server.make_calendar("busy", "Bezet", user)
    person = factories.practitioner(days=range(7))
    proxy = FaultProxy(server.url)
    bomb = gzip_bomb(1536)
    first = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:flood-{i}@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{(first + timedelta(days=2, minutes=i)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DURATION:PT1M\r\nSUMMARY:Flood {i}\r\nEND:VEVENT\r\n"
        for i in range(110_000)
    )
    flood = multistatus(
        f"<D:response><D:href>{calendar}flood.ics</D:href><D:propstat><D:prop>"
        f'<D:getetag>"f"</D:getetag><C:calendar-data>BEGIN:VCALENDAR\r\nVERSION:2.0\r\n'
        f"PRODID:-//x//EN\r\n{events}END:VCALENDAR\r\n</C:calendar-data></D:prop>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )
    del events

    def connection_new():
        return service.caldav_connection_create(
            practitioner=person, url=proxy.url + "/", username=user, password=password
        )

    def report(label, run, connection):
        outcome = ""
        try:
            with _peak() as seen:
                run()
        except BaseException as exc:  # the figure "before": what escaped, and how far it grew
            outcome = f"raised {type(exc).__name__}"
        if not outcome:
            connection.refresh_from_db()
            outcome = f"{connection.status}: {connection.last_error[:110]}"
        crossed = seen["crossed"]
        print(
            f"  {label}: peak +{seen['mb']:.0f} MB in {seen['seconds']:.1f} s"
            + (f" (past +500 MB after {crossed:.1f} s)" if crossed is not None else "")
            + f"\n    -> {outcome}"
        )

    print(
        f"hostile CalDAV server (ICS_MAX_BYTES {_mb(settings_value('ICS_MAX_BYTES'))}, "
        f"ICS_IMPORT_MAX_MB {settings_value('ICS_IMPORT_MAX_MB')}):"
    )
    found = connection_new()
    proxy.answer_with(bomb, what="propfind", headers={"Content-Encoding": "gzip"}, count=1)
    report(
        f"discovery PROPFIND, {len(bomb) / 1e6:.1f} MB gzip -> 1.5 GB",
        lambda: service.caldav_connection_setup(connection=found, now=timezone.now()),
        found,
    )
    proxy.clear_faults()
    listed = connection_new()
    service.caldav_connection_setup(connection=listed, now=timezone.now())
    CalendarConnection.objects.filter(pk=listed.pk).update(
        caldav_listed_at=None, busy_calendar_ids=[proxy.url + calendar]
    )
    proxy.answer_with(bomb, what="propfind", headers={"Content-Encoding": "gzip"}, count=1)
    report(
        "calendar listing PROPFIND, the same bomb",
        lambda: service.caldav_connection_pull(connection=listed, now=timezone.now(), force=True),
        listed,
    )
    proxy.clear_faults()
    server.put(calendar, "flood.ics", _event(0, first + timedelta(days=2)), user)
    proxy.answer_with(flood, what="multiget", count=1)
    report(
        f"multiget of 110,000 events ({len(flood) / 1e6:.1f} MB)",
        lambda: service.caldav_connection_pull(connection=listed, now=timezone.now(), force=True),
        listed,
    )
    print(f"    busy blocks kept: {BusyBlock.objects.filter(practitioner=person).count()}")
    proxy.close()


def settings_value(name: str):
    from django.conf import settings

    return getattr(settings, name)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


if __name__ == "__main__":
    main()
