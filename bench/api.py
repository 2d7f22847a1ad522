"""HTTP benchmark over loopback: gunicorn + PostgreSQL, as in production.

Measures, in one run and the same way:
- the floor: GET /api/v1/practitioners/{slug}/ (a trivial DRF endpoint, one query);
- GET /api/v1/slots/ for a month view of a practitioner with 10k stored sessions and
  10k busy blocks;
- POST /api/v1/bookings/ from 50 concurrent clients picking random free-looking slots,
  then proves in the database that no two live sessions overlap.

    .venv/bin/python bench/api.py   [BENCH_DATABASE_URL=postgres://...]  [BENCH_SECONDS=10]
"""

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import database_recreate  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bsr_bench")
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
PORT = int(os.environ.get("BENCH_PORT", "8799"))
HISTORY = 10_000
SERVER_ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "DJANGO_SETTINGS_MODULE": "config.settings.local",
    "DEBUG": "0",
    "THROTTLE_ENABLED": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "ERROR",
    "VAR_DIR": str(ROOT / "var" / "bench"),
}


def seed():
    """The 10k-history practice for slots, and a 24/7 practice for booking load."""
    os.environ.update(SERVER_ENV)
    import django

    django.setup()
    from django.utils import timezone

    from bench.seed import add_history, build_practice
    from tests import factories

    now = timezone.now()
    month_start = (now + timedelta(days=3)).date()
    owner, other, follow_up = build_practice()
    add_history(owner, other, follow_up, HISTORY, month_start=month_start, now=now)
    load = factories.practitioner(hours=[(dtime(0), dtime(23, 45))], days=range(7))
    quarter = factories.appointment_type(load, duration_minutes=15, max_days_ahead=60)
    first = datetime.combine(now.date() + timedelta(days=2), dtime(0), tzinfo=UTC)
    starts = [first + timedelta(minutes=15 * i) for i in range(96 * 50)]
    return owner, follow_up, month_start, quarter, starts


def serve(extra_env):
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "4",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**SERVER_ENV, **extra_env},
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/schema/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def load(request, *, clients: int, seconds: float):
    """Run `request(conn)` from `clients` threads for `seconds`; return stats."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        mine, codes = [], {}
        while time.monotonic() < stop:
            began = time.perf_counter()
            status = request(conn)
            mine.append((time.perf_counter() - began) * 1000)
            codes[status] = codes.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "statuses": statuses,
    }


def get(path):
    def request(conn):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status

    return request


def post_booking(type_id, starts):
    counter = iter(range(10**9))

    def request(conn):
        start = random.choice(starts)
        body = json.dumps(
            {
                "appointment_type": type_id,
                "start": start.isoformat(),
                "name": "Load Test",
                "email": f"load{next(counter)}@example.nl",
            }
        )
        conn.request("POST", "/api/v1/bookings/", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status

    return request


def main():
    database_recreate(DATABASE_URL, SERVER_ENV)
    owner, follow_up, month_start, quarter, starts = seed()
    month_end = month_start + timedelta(days=30)
    floor = ("floor: practitioner", get(f"/api/v1/practitioners/{owner.slug}/"), 10)
    slots = get(
        f"/api/v1/slots/?appointment_type={follow_up.pk}&start={month_start}&end={month_end}"
    )
    phases = [
        (
            "SLOTS_CACHE_SECONDS=0: every answer computed",
            {"SLOTS_CACHE_SECONDS": "0"},
            [floor, ("slots: month, 10k history", slots, 10)],
        ),
        (
            "default settings: slot answers cached by schedule version",
            {},
            [
                floor,
                ("slots: month, 10k history", slots, 10),
                ("bookings: POST", post_booking(quarter.pk, starts), 50),
            ],
        ),
    ]
    print(
        f"gunicorn gthread 4x4 on 127.0.0.1, PostgreSQL, {SECONDS:.0f} s per case, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'case':<28}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p50/floor':>11}  statuses"
    )
    for title, extra_env, cases in phases:
        print(f"-- {title}")
        server = serve(extra_env)
        try:
            floor_p50 = None
            for name, request, clients in cases:
                load(request, clients=clients, seconds=1)  # warm connections
                stats = load(request, clients=clients, seconds=SECONDS)
                floor_p50 = floor_p50 or stats["p50"]
                print(
                    f"{name:<28}{clients:>8}{stats['rps']:>9.0f}{stats['p50']:>9.1f}"
                    f"{stats['p95']:>9.1f}{stats['p50'] / floor_p50:>10.2f}x  "
                    f"{stats['statuses']}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    from scheduler.models import Booking
    from tests.audit import overlapping_live_sessions

    booked = Booking.objects.filter(appointment_type=quarter).count()
    print(f"bookings stored: {booked}; overlapping live sessions: {overlapping_live_sessions()}")


if __name__ == "__main__":
    main()
