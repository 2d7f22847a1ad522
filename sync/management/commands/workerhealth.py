from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sync.tasks import worker_heartbeat_recent


class Command(BaseCommand):
    help = "Exit 0 if beat scheduled and a worker ran the heartbeat lately (container check)."

    def handle(self, *args, **options):
        seen = worker_heartbeat_recent(now=timezone.now())
        if seen is None:
            raise CommandError("No recent worker heartbeat.")
        self.stdout.write(f"heartbeat {seen.isoformat()}")
