from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduler.models import Practitioner
from sync import outbox
from sync.caldav import service as caldav
from sync.calendars import ics_connection_sync
from sync.connections import connection_failure_record
from sync.google.pull import google_connection_pull
from sync.google.watch import channels_renew
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
                self.sync_one(connection)
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

    def sync_one(self, connection: CalendarConnection) -> None:
        if connection.kind == CalendarConnection.Kind.ICS:
            ics_connection_sync(connection=connection, now=timezone.now(), force=True)
        elif connection.kind == CalendarConnection.Kind.CALDAV:
            caldav.caldav_connection_sync_now(connection=connection, now=timezone.now())
        else:
            outbox.deliver_due(now=timezone.now(), connection_id=connection.pk)
            google_connection_pull(connection=connection, now=timezone.now())
            channels_renew(connection=connection, now=timezone.now())
