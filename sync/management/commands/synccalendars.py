from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduler.models import Practitioner
from sync import connectors, outbox
from sync.connections import connection_failure_record
from sync.models import CalendarConnection


class Command(BaseCommand):
    help = "Run every calendar sync now, in this process (what the workers do on schedule)."

    def add_arguments(self, parser):
        parser.add_argument("--practitioner", metavar="SLUG", help="Only this practitioner")

    def handle(self, *args, **options):
        connections = CalendarConnection.objects.select_related("practitioner").order_by("pk")
        if options["practitioner"]:
            if not Practitioner.objects.filter(slug=options["practitioner"]).exists():
                raise CommandError(f"No practitioner with slug {options['practitioner']!r}.")
            connections = connections.filter(practitioner__slug=options["practitioner"])
        for connection in connections:
            try:
                connectors.of(connection).sync_now(connection=connection, now=timezone.now())
            except Exception as exc:  # one practice's trouble never stops another's sync
                connection_failure_record(connection, exc)
            connection.refresh_from_db()
            outcome = connection.last_error or connection.status
            label = connection.name or connection.url
            self.stdout.write(f"{connection.kind}:{connection.pk} {label}: {outcome}")
        # Whatever else waits in the outbox (e-mail, revocations) goes out too.
        practitioner = Practitioner.objects.filter(slug=options["practitioner"]).first()
        sent = outbox.deliver_due(
            now=timezone.now(), practitioner_id=practitioner.pk if practitioner else None
        )
        self.stdout.write(f"outbox: {sent} delivered, {outbox.pending_count()} waiting")
