"""The Celery application: web, worker and beat share it."""

import logging
import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

log = logging.getLogger(__name__)

app = Celery("bsr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def first_heartbeat(sender, **kwargs) -> None:
    """Beat fires an interval schedule only when the interval has passed, so /health/ would
    answer 503 for the first HEARTBEAT_INTERVAL_SECONDS (and a worker's pick-up) after every
    start. Beat sends one heartbeat as it starts; a worker runs it as it runs the scheduled
    ones, so it still proves both."""
    entry = sender.app.conf.beat_schedule.get("heartbeat")
    if entry is None:
        return
    try:
        sender.app.send_task(entry["task"], retry=False)
    except Exception:  # broker trouble: the schedule sends the next one anyway
        log.warning("beat could not send the first heartbeat; the schedule will")
