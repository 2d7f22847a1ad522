"""The transactional outbox: every side effect leaves through here.

A change (a booking, a cancellation, a question, a broken calendar link) writes its
e-mails and calendar pushes as OutboxItem rows in its own transaction. After commit a
task is asked to deliver them at once; beat sweeps every minute whatever is still due.
So a rolled-back change sends nothing, a broker outage only delays (a request never
fails because the broker is down), and a worker that dies mid-delivery leaves the item
due again once its lease runs out.

This is the engine only: it stores, leases, retries and dispatches. What an item of a
kind means is up to the deliverer registered for that kind at start-up (sync/apps.py):
the e-mail channel (sync/channels/email.py), each calendar connector's pushes and
revocations. It imports none of them. A message an item carries is sealed at rest
(sync/sealing.py), opened for its deliverer, and blanked once delivered.

Exactly once is the deliverers' part: a calendar push is idempotent by itself (event ids
come from the session); an e-mail keeps one Message-ID over every attempt.
"""

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sync import jobs
from sync.models import CalendarConnection, OutboxItem
from sync.sealing import reseal, seal, unseal

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
UNREADABLE = (
    "Cannot be decrypted: its key was removed from TOKEN_ENCRYPTION_KEYS before "
    "`manage.py reencrypttokens` ran. Put the old key back (after the new one) to send it."
)


@dataclass(frozen=True)
class Deliverer:
    """Delivers claimed items of one kind.

    `deliver(item, message=, now=, clients=)` makes one item happen and returns 1 when it
    is done (it calls `done`), 0 when it is not (it calls `retry_later`). `message` is the
    item's message opened ("" when it carries none); `clients` lives for one delivery
    round, for connections worth reusing across its items, and is handed to `close` at
    the end of the round."""

    deliver: Callable[..., int]
    close: Callable[[dict], None] | None = None


deliverers: dict[str, Deliverer] = {}


def register(kind: str, deliverer: Deliverer) -> None:
    deliverers[kind] = deliverer


# --- store (inside the caller's transaction) ----------------------------------------------


def enqueue(
    *,
    kind: str,
    practitioner_id: int | None,
    now: datetime,
    message: str = "",
    sealed_message: str = "",
    **fields,
) -> OutboxItem:
    """Store one item for delivery after commit. `message` is sealed here; a secret that is
    sealed already (a stored token) comes as `sealed_message`. `fields` are the item's
    other columns (message_id, question, connection_id, session)."""
    item = OutboxItem.objects.create(
        kind=kind,
        practitioner_id=practitioner_id,
        message=sealed_message or seal(message),
        created_at=now,
        next_attempt_at=now,
        **fields,
    )
    _kick_after_commit([item.pk])
    return item


def enqueue_many(items: list[OutboxItem], *, now: datetime) -> list[int]:
    """Store several items (unsaved rows without messages) in one query; their ids."""
    for item in items:
        item.created_at = item.next_attempt_at = now
    rows = OutboxItem.objects.bulk_create(items)
    ids = [row.pk for row in rows if row.pk is not None]
    if items and not ids:  # backends that do not return ids from bulk_create
        ids = list(
            OutboxItem.objects.filter(
                done_at__isnull=True,
                created_at=now,
                kind__in={i.kind for i in items},
                session_id__in={i.session_id for i in items},
                connection_id__in={i.connection_id for i in items},
            ).values_list("pk", flat=True)
        )
    _kick_after_commit(ids)
    return ids


def revoke_enqueue(
    *,
    practitioner_id: int,
    sealed_token: str,
    now: datetime,
    kind: str = OutboxItem.Kind.GOOGLE_REVOKE,
):
    """Ask a provider to forget a grant (its connection is being removed); the token is
    stored as it was sealed on the connection."""
    if not sealed_token:
        return None
    return enqueue(kind=kind, practitioner_id=practitioner_id, now=now, sealed_message=sealed_token)


def connection_retry_now(*, connection_id: int, now: datetime) -> int:
    """After a reconnect: everything that waited for the connection is due at once."""
    return OutboxItem.objects.filter(connection_id=connection_id, done_at__isnull=True).update(
        next_attempt_at=now, attempts=0
    )


def _kick_after_commit(ids: list[int]) -> None:
    """One broker call per commit however many items the transaction wrote (a broker that
    is down costs a request one connect timeout, not one per e-mail)."""
    if not ids:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        kick(ids)
        return
    # Joined only within the same (save)point: a callback whose savepoint rolls back is
    # dropped, and must not take later items with it.
    here = set(connection.savepoint_ids)
    for savepoints, callback, _robust in connection.run_on_commit:
        if hasattr(callback, "outbox_ids") and savepoints == here:
            callback.outbox_ids.extend(ids)
            return

    def send():
        kick(send.outbox_ids)

    send.outbox_ids = list(ids)
    transaction.on_commit(send)


def kick(ids: Iterable[int]) -> None:
    """Ask a worker to deliver these items now. Never raises: when the broker cannot be
    reached the items simply wait for beat's next sweep."""
    jobs.send("outbox_deliver", list(ids))


# --- lease, dispatch, retry ---------------------------------------------------------------


def deliver_due(
    *,
    now: datetime,
    ids: Iterable[int] | None = None,
    connection_id: int | None = None,
    practitioner_id: int | None = None,
    limit: int = 500,
) -> int:
    """Deliver the due items (optionally only some of them); returns how many went out."""
    due = OutboxItem.objects.filter(done_at__isnull=True, next_attempt_at__lte=now).exclude(
        connection__status=CalendarConnection.Status.RECONNECT_NEEDED
    )
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    if connection_id is not None:
        due = due.filter(connection_id=connection_id)
    if practitioner_id is not None:
        due = due.filter(practitioner_id=practitioner_id)
    delivered = 0
    clients: dict[str, dict] = {}
    began = time.monotonic()
    try:
        for item in due.select_related("connection").order_by("created_at", "pk")[:limit]:
            if time.monotonic() - began > _lease().total_seconds() / 2:
                break  # the rest waits for the next run, well inside any lease
            # The lease runs from the claim, not from the start of this run: a slow batch
            # must never hand a later item to a second worker while this one sends it.
            moment = max(now, timezone.now())
            if not _claim(item, moment):
                continue  # another worker has it
            try:
                delivered += _deliver(item, moment, clients)
            except Exception as error:  # one bad item must not stop the others
                log.exception("outbox %s (%s) failed unexpectedly", item.pk, item.kind)
                retry_later(item, f"Unexpected {type(error).__name__}: {error}"[:2000], moment)
    finally:
        for kind, open_clients in clients.items():
            close = deliverers[kind].close
            if close is not None and open_clients:
                close(open_clients)
    return delivered


def _deliver(item: OutboxItem, now: datetime, clients: dict[str, dict]) -> int:
    deliverer = deliverers.get(item.kind)
    if deliverer is None:  # nothing registered it (yet): a deployment in progress
        retry_later(item, f"No deliverer for {item.kind!r} items.", now)
        return 0
    message = unseal(item.message)
    if item.message and not message:
        # Its key left TOKEN_ENCRYPTION_KEYS before reencrypttokens ran: it cannot be
        # delivered. Said on the item and retried seldom, so putting the old key back heals it.
        log.error("outbox %s (%s): its sealed message cannot be decrypted", item.pk, item.kind)
        retry_later(item, UNREADABLE, now, at_least=MAX_BACKOFF)
        return 0
    return deliverer.deliver(
        item, message=message, now=now, clients=clients.setdefault(item.kind, {})
    )


def _claim(item: OutboxItem, now: datetime) -> bool:
    claimed = OutboxItem.objects.filter(
        pk=item.pk, done_at__isnull=True, next_attempt_at__lte=now
    ).update(next_attempt_at=now + _lease(), attempts=F("attempts") + 1)
    item.attempts += 1
    return bool(claimed)


def _lease() -> timedelta:
    # Longer than any one delivery (mail and calendar calls have timeouts well below it).
    return timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


def sending(item: OutboxItem, now: datetime) -> None:
    """Record that the item is being handed over now: an attempt that started but never
    finished shows here (a deliverer that can repeat itself safely says so on retry)."""
    OutboxItem.objects.filter(pk=item.pk).update(sending_at=now)


def done(*pks: int, now: datetime) -> None:
    # The stored message holds personal data: it is not kept once delivered.
    OutboxItem.objects.filter(pk__in=pks, done_at__isnull=True).update(
        done_at=now, last_error="", message=""
    )


def retry_later(item: OutboxItem, message: str, now: datetime, at_least=timedelta(0)) -> None:
    backoff = min(timedelta(seconds=30 * 2 ** min(item.attempts, 12)), MAX_BACKOFF)
    jitter = timedelta(seconds=random.uniform(0, backoff.total_seconds() / 4))  # noqa: S311
    OutboxItem.objects.filter(pk=item.pk).update(
        next_attempt_at=now + max(backoff + jitter, at_least), last_error=message
    )


def pending_count(**filters) -> int:
    return OutboxItem.objects.filter(done_at__isnull=True, **filters).count()


def messages_reseal() -> int:
    """Seal every waiting message again under the newest key (key rotation)."""
    count = 0
    for item in OutboxItem.objects.filter(done_at__isnull=True).exclude(message=""):
        OutboxItem.objects.filter(pk=item.pk).update(message=reseal(item.message))
        count += 1
    return count
