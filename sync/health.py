"""/health/: 200 when the database, cache, broker and the worker with beat answer, else 503."""

import dataclasses
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from sync.tasks import worker_heartbeat_recent


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker takes messages: Redis answers PING, or the queue folder is writable."""

    async def run(self):
        await sync_to_async(self._check)()

    def _check(self):
        url = settings.CELERY_BROKER_URL
        if url.startswith("filesystem://"):
            folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
            if not folder.is_dir() or not _writable(folder):
                raise ServiceUnavailable("The broker's queue folder cannot be written.")
            return
        from kombu import Connection

        try:
            with Connection(url, connect_timeout=3) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as exc:  # kombu raises transport-specific errors
            raise ServiceUnavailable("The broker does not answer.") from exc


@dataclasses.dataclass
class WorkerAndBeat(HealthCheck):
    """Beat schedules a heartbeat and a worker runs it: a recent one proves both are alive."""

    async def run(self):
        if await sync_to_async(worker_heartbeat_recent)(now=timezone.now()) is None:
            raise ServiceUnavailable("No worker heartbeat lately: is the worker with beat running?")


def _writable(folder: Path) -> bool:
    probe = folder / ".health"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError:
        return False
    return True


class HealthView(HealthCheckView):
    checks = (
        "health_check.checks.Database",
        "health_check.checks.Cache",
        Broker,
        WorkerAndBeat,
    )

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503  # what load balancers and the contract expect
        return response
