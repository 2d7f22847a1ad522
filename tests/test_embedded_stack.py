"""The zero-set-up default really runs background work: SQLite, filesystem broker, beat."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import process_running, worker_command

ROOT = Path(__file__).resolve().parent.parent


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        VAR_DIR=str(var_dir),
        HEARTBEAT_INTERVAL_SECONDS="1",
    )
    return env


def heartbeats(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT seen_at FROM sync_heartbeat")]
    except sqlite3.OperationalError:
        return []


@pytest.mark.slow
def test_worker_and_beat_run_on_the_embedded_broker(tmp_path):
    env = embedded_env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    log = tmp_path / "worker.log"
    with (
        log.open("w") as output,
        process_running(
            worker_command(tmp_path / "beat-schedule"),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        ),
    ):
        seen: list[str] = []
        deadline = time.monotonic() + 60
        # Beat fires every second: wait for the heartbeat to be written, then to move on.
        while time.monotonic() < deadline:
            now = heartbeats(tmp_path / "db.sqlite3")
            if now and seen and now != seen:
                break
            seen = now or seen
            time.sleep(0.5)
        else:
            raise AssertionError(f"no heartbeat progress; saw {seen!r}")
    output = log.read_text()
    assert "sync.tasks.heartbeat" in output and "succeeded" in output


def test_beat_sends_the_first_heartbeat_as_it_starts(tmp_path):
    """/health/ waits for a heartbeat; with the schedule's hour-long interval the only one a
    fresh worker with beat can write within the minute is the one beat sends at start."""
    env = {**embedded_env(tmp_path), "HEARTBEAT_INTERVAL_SECONDS": "3600"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    started = time.monotonic()
    worker = subprocess.Popen(
        worker_command(tmp_path / "beat-schedule"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while time.monotonic() - started < 60 and not heartbeats(tmp_path / "db.sqlite3"):
            time.sleep(0.5)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert heartbeats(tmp_path / "db.sqlite3"), f"no heartbeat within 60 s:\n{output}"
