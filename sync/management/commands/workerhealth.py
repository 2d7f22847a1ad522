from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sync.models import Heartbeat
from sync.tasks import WORKER_HEARTBEAT


class Command(BaseCommand):
    help = "Exit 0 if beat scheduled and a worker ran the heartbeat lately (container check)."

    def handle(self, *args, **options):
        seen = (
            Heartbeat.objects.filter(name=WORKER_HEARTBEAT)
            .values_list("seen_at", flat=True)
            .first()
        )
        allowed = timedelta(seconds=3 * settings.HEARTBEAT_INTERVAL_SECONDS + 30)
        if seen is None or timezone.now() - seen > allowed:
            raise CommandError("No recent worker heartbeat.")
        self.stdout.write(f"heartbeat {seen.isoformat()}")
