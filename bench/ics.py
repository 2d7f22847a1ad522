"""iCalendar benchmark: the outgoing feed at 10k sessions, and importing a 10k-event feed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bsr .venv/bin/python bench/ics.py

Goals: feed under 300 ms, its 304 answer under 5 ms; import under 5 s and 200 MB.
Hostile feeds (tests/sync/test_ics_hostile.py): each read ends within its limits
(30 s, 300 MB address space) with the child's peak RSS under 300 MB. The baseline, in the
same run, is the importer as it was before the limits (git show 11f7744:sync/ics/subscribe.py)
and the plain libraries, each in a fresh process capped at BASELINE_SECONDS.
"""

import multiprocessing
import os
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from scheduler.models import Booking, Session  # noqa: E402
from sync.ics.export import feed_tokens  # noqa: E402
from sync.ics.subscribe import ics_busy_blocks  # noqa: E402

SESSIONS = 10_000
EVENTS = 10_000
RUNS = 15
IMPORT_WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))


def timed(fn, runs=RUNS):
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[-1], result


def seed_sessions():
    from tests import factories

    owner = factories.practitioner()
    follow_up = factories.appointment_type(owner, duration_minutes=30)
    now = timezone.now()
    first = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC) - timedelta(days=20)
    bookings = Booking.objects.bulk_create(
        Booking(
            practitioner=owner,
            appointment_type=follow_up,
            client_name=f"Client {i}",
            client_email=f"client{i}@example.nl",
            client_phone="+31 6 1234 5678",
            notes="Rug; nek, schouders\nsinds maart" if i % 3 == 0 else "",
            manage_token_hash=f"bench-{i}",
            created_at=now,
            updated_at=now,
        )
        for i in range(SESSIONS)
    )
    Session.objects.bulk_create(
        Session(
            booking=b,
            practitioner=owner,
            start=first + timedelta(hours=i),
            end=first + timedelta(hours=i, minutes=30),
            blocked_start=first + timedelta(hours=i),
            blocked_end=first + timedelta(hours=i, minutes=30),
            updated_at=now,
        )
        for i, b in enumerate(bookings)
    )
    return owner


def feed_case():
    owner = seed_sessions()
    url = f"/feeds/{feed_tokens(owner)['bookings'].token}/bookings.ics"
    client = Client()
    full_p50, full_max, response = timed(lambda: client.get(url))
    assert response.status_code == 200
    events = response.content.count(b"BEGIN:VEVENT")
    etag = response["ETag"]
    cond_p50, cond_max, cond = timed(lambda: client.get(url, HTTP_IF_NONE_MATCH=etag), runs=200)
    assert cond.status_code == 304
    print(
        f"feed, {events} events, {len(response.content) / 1e6:.1f} MB: "
        f"p50 {full_p50:.0f} ms, max {full_max:.0f} ms (goal < 300 ms)"
    )
    print(f"feed, 304 answer: p50 {cond_p50:.2f} ms, max {cond_max:.2f} ms (goal < 5 ms)")


def import_feed_text() -> bytes:
    """10k events like a busy calendar: mostly single events, some weekly series."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//bench//EN"]
    start = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)  # written as Amsterdam wall-clock times
    for i in range(EVENTS):
        begin = start + timedelta(hours=3 * i)
        lines += [
            "BEGIN:VEVENT",
            f"UID:bench-{i}@example.com",
            "DTSTAMP:20270101T000000Z",
            f"DTSTART;TZID=Europe/Amsterdam:{begin:%Y%m%dT%H%M%S}",
            f"DTEND;TZID=Europe/Amsterdam:{begin + timedelta(minutes=45):%Y%m%dT%H%M%S}",
            f"SUMMARY:Event {i}",
        ]
        if i % 20 == 0:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=26")
        if i % 7 == 0:
            lines.append("TRANSP:TRANSPARENT")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _import_in_child(queue):
    """One import in a fresh process, so its peak resident memory is its own."""
    body = import_feed_text()
    zone = ZoneInfo("Europe/Amsterdam")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    result = ics_busy_blocks(body, zone=zone, start=IMPORT_WINDOW[0], end=IMPORT_WINDOW[1])
    seconds = time.perf_counter() - began
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((len(body), len(result.blocks), seconds, (rss_after - rss_before) / 1024))


def import_case():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_import_in_child, args=(queue,))
    child.start()
    size, blocks, seconds, rss_grew = queue.get(timeout=600)
    child.join()
    print(
        f"import, {EVENTS} events ({size / 1e6:.1f} MB, every 20th weekly x26): {blocks} busy "
        f"blocks in {seconds:.2f} s (goal < 5 s); peak RSS grew {rss_grew:.0f} MB (goal < 200 MB)"
    )
    tracemalloc.start()
    ics_busy_blocks(
        import_feed_text(),
        zone=ZoneInfo("Europe/Amsterdam"),
        start=IMPORT_WINDOW[0],
        end=IMPORT_WINDOW[1],
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"import, peak Python allocations (tracemalloc): {peak / 1e6:.0f} MB")


BASELINE_SECONDS = 20
BASELINE_COMMIT = "11f7744"


def _hostile_baseline(queue, name, source):
    """The old importer (source text) on one hostile feed, in this fresh process."""
    from tests.sync.test_ics_hostile import FEEDS

    namespace = {"__name__": "old_subscribe"}
    exec(compile(source, "old_subscribe.py", "exec"), namespace)  # noqa: S102 - our own file
    began = time.perf_counter()
    try:
        result = namespace["ics_busy_blocks"](
            FEEDS[name],
            zone=ZoneInfo("Europe/Amsterdam"),
            start=datetime(2027, 2, 21, 7, tzinfo=UTC),
            end=datetime(2027, 6, 21, 7, tzinfo=UTC),
        )
        outcome = f"{len(result.blocks)} blocks"
    except Exception as exc:
        outcome = f"{type(exc).__name__}"
    from sync.ics.limits import _peak_rss_mb

    rss = _peak_rss_mb()
    queue.put((time.perf_counter() - began, rss, outcome))


def hostile_case():
    import subprocess

    from sync.ics.limits import Limits, ics_busy_blocks_limited
    from sync.ics.subscribe import ImportLimitError
    from tests.sync.test_ics_hostile import FEEDS

    old = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:sync/ics/subscribe.py"],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.decode()
    context = multiprocessing.get_context("spawn")
    for name, body in FEEDS.items():
        queue = context.Queue()
        child = context.Process(target=_hostile_baseline, args=(queue, name, old))
        child.start()
        child.join(BASELINE_SECONDS)
        if child.is_alive():
            child.kill()
            child.join()
            before = f"> {BASELINE_SECONDS} s (killed), RSS at kill unknown"
        else:
            seconds, rss, outcome = queue.get()
            before = f"{seconds:.1f} s, peak RSS {rss:.0f} MB, {outcome}"
        began = time.perf_counter()
        try:
            result = ics_busy_blocks_limited(
                body,
                zone=ZoneInfo("Europe/Amsterdam"),
                start=datetime(2027, 2, 21, 7, tzinfo=UTC),
                end=datetime(2027, 6, 21, 7, tzinfo=UTC),
                limits=Limits(),
            )
            after = f"{len(result.blocks)} blocks, child peak RSS {result.peak_rss_mb:.0f} MB"
        except (ImportLimitError, ValueError) as exc:
            after = f"stopped within limits: {str(exc)[:60]}"
        seconds = time.perf_counter() - began
        print(
            f"hostile {name} ({len(body) / 1e6:.1f} MB): before {before}; "
            f"after {seconds:.2f} s, {after}"
        )
    small = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    zone = ZoneInfo("Europe/Amsterdam")
    window = (datetime(2027, 2, 21, tzinfo=UTC), datetime(2027, 6, 21, tzinfo=UTC))
    p50, worst, _ = timed(
        lambda: ics_busy_blocks_limited(small, zone=zone, start=window[0], end=window[1]), 10
    )
    base50, _, _ = timed(lambda: ics_busy_blocks(small, zone=zone, start=window[0], end=window[1]))
    print(
        f"child process overhead, empty feed: p50 {p50:.0f} ms, max {worst:.0f} ms "
        f"(in-process {base50:.1f} ms)"
    )


def main():
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"database: {connection.vendor}")
        with transaction.atomic():
            feed_case()
            transaction.set_rollback(True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    import_case()
    hostile_case()


if __name__ == "__main__":
    main()
