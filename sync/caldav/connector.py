"""CalDAV (iCloud, Nextcloud, Fastmail, any RFC 4791 server) as a connector
(sync/connectors.py): connected with an address, a user name and an app password; the
calendars are found in a task, never in the request; pushed to through the outbox."""

from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sync import jobs, outbox
from sync.caldav.service import (
    caldav_connection_create,
    caldav_connection_pull,
    caldav_connection_sync_now,
    caldav_connection_update,
    caldav_connections_due,
    caldav_url_check,
    clients_close,
    push_item_deliver,
)
from sync.connectors import Connected, Connector, Reconnect, Refused
from sync.models import CalendarConnection, OutboxItem


def _push_deliver(item, *, message, now, clients) -> int:
    return push_item_deliver(item, now=now, clients=clients)


class CalDAVConnector(Connector):
    kind = CalendarConnection.Kind.CALDAV
    label = "CalDAV"
    push_kind = OutboxItem.Kind.CALDAV
    required = ("username", "password")
    editable = frozenset(
        {"name", "block_all_day", "push_calendar_id", "busy_calendar_ids", "username", "password"}
    )
    sealed_fields = ("caldav_password",)

    def url_check(self, url: str) -> str:
        return caldav_url_check(url)

    reconnect = Reconnect(
        subject=_("Your calendar needs a new password"),
        problem=_(
            "Your calendar server no longer accepts the password of the calendar connection, "
            "so bookings are not copied to it and your busy time there is no longer read. "
            "Online booking goes on with the busy time known until now."
        ),
        action=_(
            "Please enter a new (app-specific) password for this calendar in the practice's "
            "settings."
        ),
        status=_("The calendar server no longer accepts the password: enter a new app password."),
    )

    def connect(self, *, practitioner, user, values, redirect_uri, now) -> Connected:
        connection = caldav_connection_create(
            practitioner=practitioner,
            url=values["url"],
            username=values["username"],
            password=values["password"],
            name=values.get("name", ""),
        )
        # Discovery talks to the server: in a task, never in this request.
        jobs.after_commit("caldav_setup", connection.pk)
        return Connected(connection=connection)

    def update(self, *, connection, values, now):
        """Once the calendars are known, only those can be chosen. New credentials run
        discovery again; anything else reads the calendars again."""
        known = {c["id"] for c in connection.available_calendars or []}
        if known:
            if "push_calendar_id" in values and values["push_calendar_id"] not in known:
                raise Refused({"push_calendar_id": gettext("Not one of this account's calendars.")})
            if set(values.get("busy_calendar_ids", [])) - known:
                raise Refused(
                    {"busy_calendar_ids": gettext("Not one of this account's calendars.")}
                )
        credentials = "password" in values or "username" in values
        connection = caldav_connection_update(connection=connection, now=now, **values)
        if credentials:
            jobs.after_commit("caldav_setup", connection.pk)
        else:
            jobs.after_commit("caldav_pull", connection.pk, force=True)
        return connection

    def read(self, *, connection, now, force=False):
        caldav_connection_pull(connection=connection, now=now, force=force)

    def read_due(self, *, now):
        # Discovery still pending runs the same way (a pull without a home discovers).
        for connection_id in caldav_connections_due(now=now):
            jobs.send("caldav_pull", connection_id)

    def sync_now(self, *, connection, now):
        caldav_connection_sync_now(connection=connection, now=now)

    def sync_soon(self, connection):
        jobs.after_commit("outbox_drain", connection.pk)
        jobs.after_commit("caldav_pull", connection.pk, force=True)

    def setup_pending(self, connection):
        return not connection.caldav_home_url

    def busy_blocks(self, connection):
        return Q(source__startswith=f"caldav:{connection.pk}:")

    def deliverers(self):
        return {
            OutboxItem.Kind.CALDAV: outbox.Deliverer(deliver=_push_deliver, close=clients_close)
        }
