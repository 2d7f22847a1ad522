"""Calendar connectors: what each kind of calendar link does, behind one interface, in one
registry.

A kind (a subscribed ICS feed, Google Calendar, CalDAV; Microsoft 365 next) is a
`Connector`: how it is connected, changed, read, synced now, removed, which busy time is
its own, what its status says, and which outbox items it delivers. Each kind's connector
lives with its code (sync/calendars.py, sync/google/connector.py,
sync/caldav/connector.py) and is registered at start-up (sync/apps.py); this module
imports none of them. The API, the workspace, the admin, the commands and the tasks ask
`of(connection)` or `get(kind)` and never test the kind themselves, so a new kind is one
package with a Connector and one line in sync/apps.py.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from scheduler.models import BusyBlock, Session
from scheduler.practice import schedule_changed
from sync import outbox
from sync.models import CalendarConnection, OutboxItem


class Refused(Exception):
    """A change a connector will not make; `errors` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Reconnect:
    """What the practitioner is told when the link needs them (e-mail and pages)."""

    subject: str | Promise
    problem: str | Promise
    action: str | Promise
    status: str | Promise


@dataclass(frozen=True)
class Connected:
    """What `connect` did: made the connection, or (a provider's consent page) where to
    send the practitioner to finish it."""

    connection: CalendarConnection | None = None
    redirect_to: str = ""


class Connector:
    """One kind of calendar connection. Subclasses set the attributes and implement the
    methods their kind needs; the defaults suit a calendar that is only read."""

    kind: str
    label: str | Promise
    # The outbox item kind that pushes bookings into this kind of calendar; None: read only.
    push_kind: str | None = None
    # False: connected through the provider's consent page; `connect` returns where to go.
    connects_here: bool = True
    # What `connect` needs besides the address.
    required: tuple[str, ...] = ()
    # What `update` may change.
    editable: frozenset[str] = frozenset({"name", "block_all_day"})
    # Sealed columns of CalendarConnection (sync/sealing.py), sealed anew on key rotation.
    sealed_fields: tuple[str, ...] = ()
    reconnect: Reconnect | None = None

    # --- what each kind implements ---

    def connect(
        self, *, practitioner, user, values: dict, redirect_uri: str, now: datetime
    ) -> Connected:
        """Add a connection (reading starts after commit, in a worker); raises
        FeedFetchError for an address that will not be contacted."""
        raise NotImplementedError(f"{type(self).__name__}.connect() must be overridden")

    def url_check(self, url: str) -> str:
        """The address as it will be stored, or FeedFetchError in plain words; the admin's
        form asks this before it saves an address typed by hand. Default: no address."""
        return url

    def update(self, *, connection: CalendarConnection, values: dict, now: datetime):
        """Change what `editable` allows; raises Refused or FeedFetchError."""
        raise NotImplementedError(f"{type(self).__name__}.update() must be overridden")

    def read(self, *, connection: CalendarConnection, now: datetime, force: bool = False):
        """Mirror the connection's busy time now, in this process."""
        raise NotImplementedError(f"{type(self).__name__}.read() must be overridden")

    def read_due(self, *, now: datetime) -> None:
        """Beat, every minute: ask a worker to read each connection of this kind that is due."""
        raise NotImplementedError(f"{type(self).__name__}.read_due() must be overridden")

    def sync_now(self, *, connection: CalendarConnection, now: datetime) -> None:
        """Everything at once, in this process (synccalendars): what waits to be pushed,
        a read, any upkeep."""
        raise NotImplementedError(f"{type(self).__name__}.sync_now() must be overridden")

    def sync_soon(self, connection: CalendarConnection) -> None:
        """The practitioner's "sync now": ask a worker for the same after commit."""
        raise NotImplementedError(f"{type(self).__name__}.sync_soon() must be overridden")

    def busy_blocks(self, connection: CalendarConnection) -> Q:
        """The BusyBlock rows this connection mirrored (its busy source)."""
        raise NotImplementedError(f"{type(self).__name__}.busy_blocks() must be overridden")

    # --- defaults ---

    def deliverers(self) -> dict[str, outbox.Deliverer]:
        """The outbox item kinds this connector delivers (pushes, revocations)."""
        return {}

    def upkeep(self, *, now: datetime) -> None:
        """Beat, hourly: whatever this kind must renew."""

    def setup_pending(self, connection: CalendarConnection) -> bool:
        """True while the connection waits for its first look at the account."""
        return False

    def calendars(self, connection: CalendarConnection) -> list[tuple[str, str]]:
        """The account's calendars as (id, name), as last listed."""
        return [
            (c["id"], c.get("name") or c.get("summary") or c["id"])
            for c in connection.available_calendars or []
        ]

    def status_text(self, connection: CalendarConnection) -> str:
        """How the connection is doing, in a sentence for the practitioner."""
        if connection.status == CalendarConnection.Status.RECONNECT_NEEDED and self.reconnect:
            return str(self.reconnect.status)
        if connection.status == CalendarConnection.Status.ERROR:
            return _(
                "The last attempt to read this calendar failed; its busy time is from the "
                "last success."
            )
        if self.setup_pending(connection):
            return _("Looking for the calendars on the server; refresh the page in a moment.")
        if connection.last_success_at is None:
            return _("Not read yet.")
        return _("Working.")

    def remove(self, *, connection: CalendarConnection, now: datetime) -> None:
        """Remove the connection and the busy time it mirrored, in one transaction (events
        we pushed stay in the practitioner's calendar)."""
        with transaction.atomic():
            BusyBlock.objects.filter(
                Q(practitioner_id=connection.practitioner_id) & self.busy_blocks(connection)
            ).delete()
            self.before_remove(connection=connection, now=now)
            connection.delete()
            schedule_changed(connection.practitioner_id)

    def before_remove(self, *, connection: CalendarConnection, now: datetime) -> None:
        """Inside `remove`'s transaction, before the row goes (a grant to revoke)."""


registry: dict[str, Connector] = {}


def register(connector: Connector) -> None:
    registry[connector.kind] = connector
    for kind, deliverer in connector.deliverers().items():
        outbox.register(kind, deliverer)


def get(kind: str) -> Connector:
    return registry[kind]


def of(connection: CalendarConnection) -> Connector:
    return registry[connection.kind]


def every() -> Iterable[Connector]:
    return list(registry.values())


def pushes_enqueue(*, booking, now: datetime) -> list[int]:
    """One calendar push per session and connection that takes bookings; their ids."""
    pushes = {c.kind: c.push_kind for c in registry.values() if c.push_kind}
    connections = CalendarConnection.objects.filter(
        practitioner_id=booking.practitioner_id, kind__in=pushes
    ).values_list("pk", "kind")
    sessions: list[Session] = list(booking.sessions.all())
    return outbox.enqueue_many(
        [
            OutboxItem(
                kind=pushes[kind],
                practitioner_id=booking.practitioner_id,
                connection_id=connection_id,
                session=session,
            )
            for connection_id, kind in connections
            for session in sessions
        ],
        now=now,
    )
