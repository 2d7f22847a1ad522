"""A cancellation reaches the wait list through a real worker: the service as deployed
(gunicorn, a Celery worker with beat, a real broker, an SMTP server), on both stacks."""

import re
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
import requests

from tests.reliability.smtp_sink import SmtpSink
from tests.reliability.test_nothing_lost import _stack_of

pytestmark = pytest.mark.slow


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture(params=["postgres+redis", "embedded"])
def stack(request, tmp_path: Path, sink):
    service, drop = _stack_of(request.param, tmp_path, sink)
    # Waves of 3, the next one seconds later; beat sweeps every few seconds.
    service.env.update(
        WAITLIST_WAVE_SIZE="3", WAITLIST_WAVE_MINUTES="0.1", WAITLIST_SWEEP_SECONDS="3"
    )
    try:
        service.manage("migrate", "--noinput", "-v0")
        yield service
    finally:
        service.stop()
        if drop:
            drop()


def offers(sink) -> list:
    """The wait-list offers received so far (subject "Er is een tijd vrijgekomen ...")."""
    with sink._lock:
        raw = list(sink.messages)
    parsed = [message_from_bytes(m, policy=default_policy) for m in raw]
    return [m for m in parsed if "vrijgekomen" in str(m["Subject"])]


def test_a_cancellation_is_mailed_to_five_waiting_clients_within_a_minute(stack, sink):
    stack.broker_start()
    stack.manage("demo")
    stack.web_start()
    stack.worker_start()
    _, follow_up = stack.practice()
    start = stack.free_starts(follow_up)[0]
    booked = stack.book(follow_up, start, 1)
    day = start[:10]
    for n in range(5):
        joined = requests.post(
            stack.url + "/api/v1/waitlist/",
            json={
                "appointment_type": follow_up,
                "name": f"Wachtende {n}",
                "email": f"wacht{n}@example.nl",
                "language": "nl",
                "earliest": day,
                "latest": day,
            },
            timeout=30,
        )
        assert joined.status_code == 201, joined.text
    time.sleep(4)  # a sweep or two: the times free when they joined are not offered
    assert offers(sink) == []

    token = booked["manage_url"].rstrip("/").rsplit("/", 1)[1]
    cancelled_at = time.monotonic()
    cancelled = requests.post(f"{stack.url}/api/v1/manage/{token}/cancel/", timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    deadline = cancelled_at + 60
    while len(addressees(offers(sink))) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert addressees(offers(sink)) == {f"wacht{n}@example.nl" for n in range(5)}
    # The demo follow-up has a buffer: the cancellation freed more than one start. Each
    # entry may get each of them, once; never the same start twice, however often beat
    # sweeps.
    time.sleep(10)
    pairs = [(str(m["To"]), first_time(m)) for m in offers(sink)]
    assert len(pairs) == len(set(pairs))
    assert {t for _, t in pairs} >= {start[11:16]}


def addressees(messages) -> set[str]:
    return {str(m["To"]) for m in messages}


def first_time(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "/waitlist/claim/" in text
    return re.search(r"\d\d:\d\d", text).group(0)
