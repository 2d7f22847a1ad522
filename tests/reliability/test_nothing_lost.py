"""Nothing lost, nothing doubled: the service run as it is deployed (gunicorn, a Celery
worker with beat, a real broker, a real SMTP server), with the broker killed at commit and
the worker killed with SIGKILL in the middle of sending an e-mail.

Two stacks: PostgreSQL + a private Redis (killed and restarted on its port), and the
embedded default (SQLite + the filesystem broker, whose queue folder is made unusable).
"Exactly once" for e-mail means one Message-ID per outbox item: a message the worker had
handed over when it was killed is sent again under the same Message-ID, which is how mail
systems recognise the same message (SMTP itself cannot promise more).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.processes import process_start, process_stop, worker_command
from tests.reliability.smtp_sink import SmtpSink, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
BIN = Path(sys.executable).parent


class Stack:
    """The service's processes for one test, all on 127.0.0.1."""

    def __init__(self, tmp: Path, sink: SmtpSink, database_url: str | None, broker: str):
        self.tmp, self.sink, self.broker = tmp, sink, broker
        self.web_port = free_port()
        self.redis_port = free_port() if broker == "redis" else None
        self.processes: dict[str, subprocess.Popen] = {}
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_URL"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.local",
            PYTHONPATH=str(ROOT),
            VAR_DIR=str(tmp / "var"),
            EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
            EMAIL_TIMEOUT="20",
            OUTBOX_SWEEP_SECONDS="2",
            OUTBOX_LEASE_SECONDS="5",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{self.web_port}",
            LOG_LEVEL="WARNING",
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        if broker == "redis":
            # Production's shape: broker and cache on the same Redis, both gone at once.
            env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
            env["CACHE_URL"] = f"redis://127.0.0.1:{self.redis_port}/1"
        self.env = env
        self.url = f"http://127.0.0.1:{self.web_port}"

    # --- processes ---------------------------------------------------------------------

    def _start(self, name: str, args: list[str], ready=None, timeout: float = 30) -> None:
        """Each in its own process group: the worker's embedded beat is a child process, and
        a kill must take both, as a dying container does (else beat lives on, orphaned). A
        start that fails stops what it started (process_start) and shows its log."""
        log = self.tmp / f"{name}.log"
        try:
            with log.open("ab") as output:
                self.processes[name] = process_start(
                    args,
                    ready=ready,
                    timeout=timeout,
                    cwd=ROOT,
                    env=self.env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
        except RuntimeError as exc:
            raise AssertionError(f"{name}: {exc}\n{log.read_text()}") from exc

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def sql_json(self, code: str):
        """Run Django code in a separate process (as an operator would) and read its JSON."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def web_start(self) -> None:
        def answers() -> bool:
            try:
                requests.get(self.url + "/api/v1/practitioners/praktijk-de-linde/", timeout=5)
            except requests.ConnectionError:
                return False
            return True

        self._start(
            "web",
            [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{self.web_port}"],
            ready=answers,
        )

    def worker_start(self) -> None:
        self._start("worker", worker_command(self.tmp / f"beat-{uuid.uuid4().hex}"))

    def worker_kill(self) -> None:
        worker = self.processes.pop("worker")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def broker_start(self) -> None:
        if self.broker == "redis":

            def pong() -> bool:
                ping = subprocess.run(
                    ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True
                )
                return ping.stdout.strip() == b"PONG"

            self._start(
                "redis",
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                ready=pong,
                timeout=10,
            )
            return
        queue = self.tmp / "var" / "broker" / "queue"
        if queue.is_file():
            queue.unlink()
        queue.mkdir(parents=True, exist_ok=True)

    def broker_kill(self) -> None:
        if self.broker == "redis":
            redis = self.processes.pop("redis")
            os.killpg(redis.pid, signal.SIGKILL)
            redis.wait(timeout=10)
            return
        # The embedded broker's queue folder replaced by a file: every publish fails, as a
        # full or unmounted disk would make it.
        queue = self.tmp / "var" / "broker" / "queue"
        shutil.rmtree(queue)
        queue.write_text("not a folder")

    def stop(self) -> None:
        for process in self.processes.values():
            process_stop(process, grace=0)

    # --- the service as its clients use it ----------------------------------------------

    def practice(self) -> tuple[str, int]:
        """The demo practice's slug and its single follow-up appointment type."""
        types = requests.get(
            self.url + "/api/v1/appointment-types/?practitioner=praktijk-de-linde", timeout=10
        ).json()
        follow_up = next(t for t in types if not t.get("sessions"))
        return "praktijk-de-linde", follow_up["id"]

    def free_starts(self, type_id: int) -> list[str]:
        # The processes run on the real clock: any day works, as 20 days ahead always hold
        # at least four working days past the client change window. Today is the service's
        # (its Date header), which this process's clock may not be (tests.clock_shift).
        served = requests.get(self.url + "/api/v1/practitioners/praktijk-de-linde/", timeout=10)
        today = parsedate_to_datetime(served.headers["Date"]).astimezone(AMSTERDAM).date()
        first = today + timedelta(days=3)
        response = requests.get(
            self.url + "/api/v1/slots/",
            params={
                "appointment_type": type_id,
                "start": first.isoformat(),
                "end": (first + timedelta(days=20)).isoformat(),
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        # One per day: no two of them overlap, whatever the type's length and buffers.
        by_day = {}
        for slot in response.json()["slots"]:
            by_day.setdefault(slot["start"][:10], slot["start"])
        return list(by_day.values())

    def book(self, type_id: int, start: str, n: int) -> dict:
        response = requests.post(
            self.url + "/api/v1/bookings/",
            json={
                "appointment_type": type_id,
                "start": start,
                "name": f"Cliënt {n}",
                "email": f"client{n}@example.nl",
                "language": "nl",
            },
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def outbox_mail(self) -> dict:
        return self.sql_json(
            "import json; from sync.models import OutboxItem as O; "
            "m = O.objects.filter(kind='mail'); "
            "print(json.dumps({'ids': sorted(m.values_list('message_id', flat=True)), "
            "'pending': m.filter(done_at__isnull=True).count()}))"
        )


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


def _stack_of(kind: str, tmp_path: Path, sink: SmtpSink):
    if kind == "embedded":
        return Stack(tmp_path, sink, None, "filesystem"), None
    import psycopg

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
    name = f"bsr_e2e_{uuid.uuid4().hex[:10]}"
    admin_url = urlsplit(base)._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = urlsplit(base)._replace(path=f"/{name}").geturl()

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return Stack(tmp_path, sink, database_url, "redis"), drop


@pytest.fixture(params=["postgres+redis", "embedded"])
def stack(request, tmp_path, sink):
    service, drop = _stack_of(request.param, tmp_path, sink)
    try:
        service.manage("migrate", "--noinput", "-v0")
        yield service
    finally:
        service.stop()
        if drop:
            drop()


def test_broker_down_at_commit_then_a_worker_killed_mid_send(stack, sink):
    # The broker is down while the demo practice is loaded and while clients book,
    # cancel and reschedule: every request still succeeds.
    stack.broker_start()
    if stack.broker == "redis":
        stack.broker_kill()
        stack.manage("demo")
    else:
        stack.manage("demo")  # the filesystem broker's folder is needed to start at all
    stack.web_start()
    if stack.broker != "redis":
        stack.broker_kill()
    _, follow_up = stack.practice()
    starts = stack.free_starts(follow_up)
    first = stack.book(follow_up, starts[0], 1)
    second = stack.book(follow_up, starts[1], 2)
    token = first["manage_url"].rstrip("/").rsplit("/", 1)[1]
    moved = requests.post(
        f"{stack.url}/api/v1/manage/{token}/reschedule/", json={"start": starts[2]}, timeout=30
    )
    assert moved.status_code == 200, moved.text
    token = second["manage_url"].rstrip("/").rsplit("/", 1)[1]
    cancelled = requests.post(f"{stack.url}/api/v1/manage/{token}/cancel/", timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    waiting = stack.outbox_mail()
    assert waiting["pending"] == len(waiting["ids"]) >= 8  # demo's mails and these four events
    assert sink.messages == []  # nothing could be asked of a worker yet

    # The broker returns, a worker starts: every e-mail arrives, each exactly once.
    stack.broker_start()
    stack.worker_start()
    received = sink.wait_for(len(waiting["ids"]), timeout=90)
    assert sorted(received) == waiting["ids"]
    assert stack.outbox_mail()["pending"] == 0

    # A worker killed with SIGKILL after handing a message to the mail server, before it
    # heard the answer: the message goes out again under the same Message-ID, and no
    # message is lost or gets a second identity.
    sink.hold_before_ok = 30
    before = len(sink.messages)
    stack.book(follow_up, starts[3], 3)
    deadline = time.monotonic() + 60
    while len(sink.messages) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(sink.messages) == before + 1, "the worker never started sending"
    stack.worker_kill()
    sink.hold_before_ok = 0
    stack.worker_start()
    deadline = time.monotonic() + 90
    while stack.outbox_mail()["pending"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stack.outbox_mail()["pending"] == 0
    expected = stack.outbox_mail()["ids"]
    received = sink.message_ids()
    assert set(received) == set(expected)  # nothing lost
    assert len(received) == len(expected) + 1  # the one in flight when killed, resent...
    assert len(set(received)) == len(expected)  # ...under its own Message-ID: not doubled
