"""Google Calendar as a connector (sync/connectors.py): connected through Google's consent
page, pushed to through the outbox, read by sync token with watch channels, its grant
revoked through the outbox when it is removed."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sync import jobs, outbox
from sync.connectors import Connected, Connector, Reconnect
from sync.google.oauth import google_connect_start, revoke_deliver, revoke_enqueue
from sync.google.pull import google_connection_pull, google_connections_due
from sync.google.push import push_item_deliver
from sync.google.watch import channels_renew, channels_renew_all
from sync.models import CalendarConnection, OutboxItem


def _push_deliver(item, *, message, now, clients) -> int:
    return push_item_deliver(item, now=now, services=clients)


class GoogleConnector(Connector):
    kind = CalendarConnection.Kind.GOOGLE
    label = "Google Calendar"
    push_kind = OutboxItem.Kind.GOOGLE
    connects_here = False
    editable = frozenset({"name", "block_all_day", "push_calendar_id", "busy_calendar_ids"})
    sealed_fields = ("google_refresh_token", "google_access_token")
    reconnect = Reconnect(
        subject=_("Google Calendar needs you to connect again"),
        problem=_(
            "Google no longer accepts the connection to your calendar, so bookings are not "
            "copied to it and your busy time there is no longer read. Online booking goes on "
            "with the busy time known until now."
        ),
        action=_("Please connect Google Calendar again in the practice's settings."),
        status=_("Google no longer gives access: connect again."),
    )

    def connect(self, *, practitioner, user, values, redirect_uri, now) -> Connected:
        """Where to send the practitioner; the callback (sync/views.py) finishes it."""
        url = google_connect_start(practitioner=practitioner, user=user, redirect_uri=redirect_uri)
        return Connected(redirect_to=url)

    def update(self, *, connection, values, now):
        for name, value in values.items():
            setattr(connection, name, value)
        connection.save()
        jobs.after_commit("google_pull", connection.pk)
        return connection

    def read(self, *, connection, now, force=False):
        google_connection_pull(connection=connection, now=now)

    def read_due(self, *, now):
        for connection_id in google_connections_due(now=now):
            jobs.send("google_pull", connection_id)

    def sync_now(self, *, connection, now):
        outbox.deliver_due(now=now, connection_id=connection.pk)
        google_connection_pull(connection=connection, now=now)
        channels_renew(connection=connection, now=now)

    def sync_soon(self, connection):
        jobs.after_commit("outbox_drain", connection.pk)
        jobs.after_commit("google_pull", connection.pk)

    def upkeep(self, *, now):
        channels_renew_all(now=now)

    def busy_blocks(self, connection):
        return Q(source__startswith=f"google:{connection.pk}:")

    def before_remove(self, *, connection, now):
        # In the same transaction, so Google hears it even if the broker is down.
        revoke_enqueue(connection=connection, now=now)

    def deliverers(self):
        return {
            OutboxItem.Kind.GOOGLE: outbox.Deliverer(deliver=_push_deliver),
            OutboxItem.Kind.GOOGLE_REVOKE: outbox.Deliverer(deliver=revoke_deliver),
        }
