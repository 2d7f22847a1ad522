"""Soak: the whole stack on loopback under mixed traffic while parts of it fail.

gunicorn + a Celery worker with beat + a private Redis (broker and cache, as in production)
+ PostgreSQL + the fake Google server + a real SMTP server. For SOAK_SECONDS (default 60)
threads view slots, book, cancel and fetch feeds; a quarter in, Redis is killed (SIGKILL)
for 10 s and started again; a third in, the worker is killed (SIGKILL) and restarted;
halfway, PostgreSQL is restarted once. Then the queues are given time to drain and the
database is checked: no booking lost or doubled (every 201 is in the database, no two live
sessions overlap), every outbox item was delivered, exactly one Google event per live
session, and every e-mail arrived under its one Message-ID (none missing, none with a
second identity).

    .venv/bin/python bench/soak.py       [SOAK_SECONDS=60] [BENCH_DATABASE_URL=...]

Restarting PostgreSQL affects everything on this machine that uses it: run it alone.
"""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import database_recreate  # noqa: E402
from tests.fakes.google_server import FakeGoogleCalendar  # noqa: E402
from tests.processes import process_start, process_stop, worker_command  # noqa: E402
from tests.reliability.smtp_sink import SmtpSink, free_port  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
PORT = int(os.environ.get("SOAK_PORT", "8798"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bsr_soak")
BIN = Path(sys.executable).parent


def _redis(port, started):
    def pong():
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        return ping.stdout.strip() == b"PONG"

    process = process_start(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        ready=pong,
        timeout=10,
        stdout=subprocess.DEVNULL,
    )
    started.append(process)
    return process


def main():
    started: list[subprocess.Popen] = []
    # Whatever ends the soak (a failed start, a failed check, Ctrl-C), nothing it started
    # is left running.
    with FakeGoogleCalendar() as fake, SmtpSink() as sink:
        try:
            _soak(fake, sink, started)
        finally:
            for process in started:
                if process.poll() is None:
                    process_stop(process)


def _soak(fake, sink, started):
    redis_port = free_port()
    redis = _redis(redis_port, started)
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "THROTTLE_ENABLED": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
        "HEARTBEAT_INTERVAL_SECONDS": "5",
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "OUTBOX_SWEEP_SECONDS": "5",
        "OUTBOX_LEASE_SECONDS": "20",
        "GOOGLE_CLIENT_ID": fake.client_id,
        "GOOGLE_CLIENT_SECRET": fake.client_secret,
        "GOOGLE_TOKEN_URI": fake.token_uri,
        "GOOGLE_API_ENDPOINT": fake.api_endpoint,
        "GOOGLE_TIMEOUT_SECONDS": "5",
        "VAR_DIR": str(ROOT / "var" / "soak"),
    }
    database_recreate(DATABASE_URL, env)
    os.environ.update(env)
    import django

    django.setup()
    follow_up, feed_path = _seed(fake)
    web = process_start(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--config",
            "python:config.gunicorn",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "3",
            "--access-logfile",
            "/dev/null",
        ],
        ready=_web_answers,
        timeout=20,
        cwd=ROOT,
        env=env,
    )
    started.append(web)
    worker = _worker(env, started)
    stats = Counter()
    booked, cancelled = {}, set()
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS
    starts = _candidate_starts(follow_up)

    def client(kind):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
        rng = random.Random()
        while time.monotonic() < stop:
            try:
                if kind == "slots":
                    day = starts[0].date() + timedelta(days=rng.randrange(20))
                    status, _ = _call(
                        conn,
                        "GET",
                        f"/api/v1/slots/?appointment_type="
                        f"{follow_up.pk}&start={day}&end={day + timedelta(days=6)}",
                    )
                elif kind == "book":
                    body = {
                        "appointment_type": follow_up.pk,
                        "start": rng.choice(starts).isoformat(),
                        "name": "Soak",
                        "email": f"soak{rng.randrange(10**9)}@example.nl",
                    }
                    status, data = _call(conn, "POST", "/api/v1/bookings/", body)
                    if status == 201:
                        with lock:
                            booked[data["id"]] = data["manage_url"].rstrip("/").rsplit("/", 1)[1]
                elif kind == "cancel":
                    with lock:
                        open_ = [i for i in booked if i not in cancelled]
                        pick = rng.choice(open_) if open_ else None
                    if pick is None:
                        time.sleep(0.05)
                        continue
                    status, _ = _call(conn, "POST", f"/api/v1/manage/{booked[pick]}/cancel/")
                    if status == 200:
                        with lock:
                            cancelled.add(pick)
                else:
                    status, _ = _call(conn, "GET", feed_path)
            except (OSError, http.client.HTTPException):
                status = "connection error"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
                time.sleep(0.2)
            with lock:
                stats[(kind, status)] += 1

    threads = [
        threading.Thread(target=client, args=(k,))
        for k in ["slots"] * 4 + ["book"] * 4 + ["cancel"] * 2 + ["feed"] * 2
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(SECONDS / 4)
    redis.send_signal(signal.SIGKILL)
    redis.wait()
    print(f"{time.monotonic() - began:5.1f} s: Redis killed (broker and cache)")
    time.sleep(10)
    redis = _redis(redis_port, started)
    print(f"{time.monotonic() - began:5.1f} s: Redis started again")
    time.sleep(max(0.0, began + SECONDS / 3 - time.monotonic()))
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    print(f"{time.monotonic() - began:5.1f} s: worker killed")
    time.sleep(5)
    worker = _worker(env, started)
    print(f"{time.monotonic() - began:5.1f} s: worker restarted")
    time.sleep(max(0.0, began + SECONDS / 2 - time.monotonic()))
    cluster = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"], check=True
    )
    print(f"{time.monotonic() - began:5.1f} s: PostgreSQL restarted")
    for t in threads:
        t.join()
    served = sum(stats.values())
    print(f"traffic for {SECONDS:.0f} s: {served} requests, {served / SECONDS:.0f}/s")
    for (kind, status), count in sorted(stats.items(), key=str):
        print(f"  {kind:7} {status}: {count}")
    _settle_and_check(booked, cancelled, fake, sink)
    os.killpg(worker.pid, signal.SIGTERM)
    web.terminate()
    worker.wait(timeout=30)
    web.wait(timeout=30)
    redis.kill()
    redis.wait()


def _call(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    raw = response.read()
    data = (
        json.loads(raw)
        if raw and response.getheader("Content-Type", "").startswith("application/json")
        else None
    )
    return response.status, data


def _worker(env, started):
    # In a process group of its own (process_start): a kill takes its embedded beat too.
    worker = process_start(
        worker_command(ROOT / "var" / "soak" / "beat-schedule", loglevel="ERROR"),
        cwd=ROOT,
        env=env,
    )
    started.append(worker)
    return worker


def _web_answers():
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
        conn.request("GET", "/api/schema/")
        conn.getresponse().read()
    except OSError:
        return False
    return True


def _seed(fake):
    from datetime import time as dtime

    from sync.ics.export import feed_tokens
    from tests import factories

    person = factories.practitioner(hours=[(dtime(0), dtime(23, 45))], days=range(7))
    follow_up = factories.appointment_type(person, duration_minutes=30, max_days_ahead=60)
    factories.google_connection(fake, person)
    return follow_up, f"/feeds/{feed_tokens(person)['bookings'].token}/bookings.ics"


def _candidate_starts(follow_up):
    from django.utils import timezone

    from scheduler.selectors import slot_list

    day = timezone.localdate() + timedelta(days=2)
    end = day + timedelta(days=20)
    return [
        s.start
        for s in slot_list(
            appointment_type=follow_up, first_day=day, last_day=end, now=timezone.now()
        )
    ]


def _settle_and_check(booked, cancelled, fake, sink):
    from django.db import connection

    from scheduler.models import Booking, Session
    from sync.google.push import event_id_for
    from sync.models import OutboxItem
    from tests.audit import overlapping_live_sessions

    connection.close()  # PostgreSQL restarted: start a fresh connection
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not OutboxItem.objects.filter(done_at__isnull=True).exists():
            break
        time.sleep(1)
    stored = set(Booking.objects.values_list("pk", flat=True))
    lost = set(booked) - stored
    unknown = stored - set(booked)  # committed, but the answer never reached the client
    overlaps = overlapping_live_sessions()
    pending = OutboxItem.objects.filter(done_at__isnull=True).count()
    live = Session.objects.filter(status="confirmed", booking__status="confirmed")
    events = {i for i, e in fake.events("primary").items() if e.get("status") != "cancelled"}
    wanted = {event_id_for(s) for s in live}
    print(
        f"bookings answered 201: {len(booked)}, stored: {len(stored)}, lost: {len(lost)}, "
        f"stored without an answer: {len(unknown)}, cancelled: {len(cancelled)}"
    )
    print(
        f"overlapping live sessions: {overlaps}; outbox items left: {pending}; "
        f"Google events {len(events)} for {len(wanted)} live sessions, "
        f"missing {len(wanted - events)}, extra {len(events - wanted)}"
    )
    mail_ids = set(
        OutboxItem.objects.filter(kind=OutboxItem.Kind.MAIL).values_list("message_id", flat=True)
    )
    received = sink.message_ids()
    print(
        f"e-mails: {len(mail_ids)} in the outbox, {len(set(received))} arrived "
        f"({len(received) - len(set(received))} sent again under their own Message-ID after "
        f"a kill), missing {len(mail_ids - set(received))}, unknown {len(set(received) - mail_ids)}"
    )
    ok = (
        not lost and not overlaps and not pending and events == wanted and set(received) == mail_ids
    )
    print("RESULT:", "no booking lost or doubled, every outbox item delivered" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
