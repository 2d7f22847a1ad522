"""The transactional outbox: every side effect leaves through here.

A change (a booking, a cancellation, a question, a broken calendar link) writes its
e-mails and calendar pushes as OutboxItem rows in its own transaction. After commit a
task is asked to deliver them at once; beat sweeps every minute whatever is still due.
So a rolled-back change sends nothing, a broker outage only delays (a request never
fails because the broker is down), and a worker that dies mid-delivery leaves the item
due again once its lease runs out.

Exactly once: a calendar push is idempotent by itself (event ids come from the session).
An e-mail is rendered when the change happens and stored encrypted with one Message-ID;
`sending_at` is recorded before it goes to the mail server and `done_at` after. A worker
killed between the two leaves an item that is sent again with the same Message-ID, which
the mail file backend stores under that id (one file) and mail systems treat as the same
message; an item never gets a second Message-ID.
"""

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from scheduler.models import Question
from sync.google.tokens import decrypt_token, encrypt_token
from sync.models import CalendarConnection, OutboxItem

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
UNREADABLE = (
    "Cannot be decrypted: its key was removed from TOKEN_ENCRYPTION_KEYS before "
    "`manage.py reencrypttokens` ran. Put the old key back (after the new one) to send it."
)
# Connections that receive bookings, and the kind of outbox item that pushes to each.
PUSH_KINDS = {
    CalendarConnection.Kind.GOOGLE: OutboxItem.Kind.GOOGLE,
    CalendarConnection.Kind.CALDAV: OutboxItem.Kind.CALDAV,
}


# --- enqueue (inside the caller's transaction) ---------------------------------------------


def mail_enqueue(
    message: EmailMultiAlternatives, *, practitioner_id: int, now: datetime, question=None
):
    """Store one e-mail for delivery after commit; its Message-ID is fixed now."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    message_id = make_msgid(domain=domain)
    message.extra_headers["Message-ID"] = message_id
    item = OutboxItem.objects.create(
        kind=OutboxItem.Kind.MAIL,
        practitioner_id=practitioner_id,
        message=encrypt_token(json.dumps(_message_to_dict(message))),
        message_id=message_id,
        question=question,
        created_at=now,
        next_attempt_at=now,
    )
    _kick_after_commit([item.pk])
    return item


def pushes_enqueue(*, booking, now: datetime) -> list[int]:
    """One calendar push per session and connection that takes bookings; their ids."""
    kinds = dict(
        CalendarConnection.objects.filter(
            practitioner_id=booking.practitioner_id, kind__in=PUSH_KINDS
        ).values_list("pk", "kind")
    )
    connections = list(kinds)
    rows = OutboxItem.objects.bulk_create(
        OutboxItem(
            kind=PUSH_KINDS[kinds[connection_id]],
            practitioner_id=booking.practitioner_id,
            connection_id=connection_id,
            session=session,
            created_at=now,
            next_attempt_at=now,
        )
        for connection_id in connections
        for session in booking.sessions.all()
    )
    ids = [row.pk for row in rows if row.pk is not None]
    if connections and not ids:  # backends that do not return ids from bulk_create
        ids = list(
            OutboxItem.objects.filter(
                session__booking=booking, done_at__isnull=True, connection_id__in=connections
            ).values_list("pk", flat=True)
        )
    _kick_after_commit(ids)
    return ids


def revoke_enqueue(*, practitioner_id: int, sealed_token: str, now: datetime):
    """Ask Google to forget a grant (the connection is being removed)."""
    if not sealed_token:
        return None
    item = OutboxItem.objects.create(
        kind=OutboxItem.Kind.GOOGLE_REVOKE,
        practitioner_id=practitioner_id,
        message=sealed_token,
        created_at=now,
        next_attempt_at=now,
    )
    _kick_after_commit([item.pk])
    return item


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
    from sync import tasks

    try:
        tasks.outbox_deliver.apply_async(args=[list(ids)], retry=False)
    except Exception:  # any broker trouble (refused, timeout, auth) only delays
        log.warning("broker unreachable: %d outbox item(s) wait for the sweep", len(list(ids)))


# --- deliver ----------------------------------------------------------------------------


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
        Q(connection__status=CalendarConnection.Status.RECONNECT_NEEDED)
    )
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    if connection_id is not None:
        due = due.filter(connection_id=connection_id)
    if practitioner_id is not None:
        due = due.filter(practitioner_id=practitioner_id)
    delivered = 0
    clients: dict[str, dict] = {"google": {}, "caldav": {}}
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
        if clients["caldav"]:
            from sync.caldav.service import clients_close

            clients_close(clients["caldav"])
    return delivered


def _deliver(item: OutboxItem, now: datetime, clients: dict[str, dict]) -> int:
    if item.kind == OutboxItem.Kind.MAIL:
        return _mail_deliver(item, now)
    if item.kind == OutboxItem.Kind.GOOGLE_REVOKE:
        return _revoke_deliver(item, now)
    if item.kind == OutboxItem.Kind.CALDAV:
        from sync.caldav.service import push_item_deliver as caldav_deliver

        return caldav_deliver(item, now=now, clients=clients["caldav"])
    from sync.google.push import push_item_deliver

    return push_item_deliver(item, now=now, services=clients["google"])


def _claim(item: OutboxItem, now: datetime) -> bool:
    claimed = OutboxItem.objects.filter(
        pk=item.pk, done_at__isnull=True, next_attempt_at__lte=now
    ).update(next_attempt_at=now + _lease(), attempts=F("attempts") + 1)
    item.attempts += 1
    return bool(claimed)


def _lease() -> timedelta:
    # Longer than any one delivery (mail and Google calls have timeouts well below it).
    return timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


def _mail_deliver(item: OutboxItem, now: datetime) -> int:
    sealed = decrypt_token(item.message)
    if not sealed:
        # Its key left TOKEN_ENCRYPTION_KEYS before reencrypttokens ran: nothing can be
        # sent. Said on the item and retried seldom, so putting the old key back heals it.
        log.error("outbox %s: the stored e-mail cannot be decrypted", item.pk)
        retry_later(item, UNREADABLE, now, at_least=MAX_BACKOFF)
        return 0
    message = _message_from_dict(json.loads(sealed))
    if item.sending_at is not None:
        log.warning("outbox %s: an earlier attempt may have sent it; same Message-ID", item.pk)
    OutboxItem.objects.filter(pk=item.pk).update(sending_at=now)
    try:
        get_connection(timeout=settings.EMAIL_TIMEOUT).send_messages([message])
    except Exception as error:  # SMTP refusals, timeouts, DNS: all retried later
        retry_later(item, f"{type(error).__name__}: {error}"[:2000], now)
        return 0
    done(item.pk, now=now)
    if item.question_id is not None:
        Question.objects.filter(pk=item.question_id).update(emailed_at=now)
    return 1


def _revoke_deliver(item: OutboxItem, now: datetime) -> int:
    from sync.google.oauth import google_token_revoke

    if not decrypt_token(item.message):
        log.error("outbox %s: the token to revoke cannot be decrypted", item.pk)
        retry_later(item, UNREADABLE, now, at_least=MAX_BACKOFF)
        return 0
    try:
        google_token_revoke(item.message)
    except Exception as error:  # network trouble: Google must still hear it, later
        retry_later(item, f"{type(error).__name__}: {error}"[:2000], now)
        return 0
    done(item.pk, now=now)
    return 1


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


def messages_reencrypt(reencrypt: Callable[[str], str]) -> int:
    """Re-encrypt every waiting message under the newest key (key rotation)."""
    count = 0
    for item in OutboxItem.objects.filter(done_at__isnull=True).exclude(message=""):
        OutboxItem.objects.filter(pk=item.pk).update(message=reencrypt(item.message))
        count += 1
    return count


# --- the stored form of a message ---------------------------------------------------------


def _b(value) -> dict:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    return {"text": value}


def _unb(value: dict):
    return base64.b64decode(value["b64"]) if "b64" in value else value["text"]


def _message_to_dict(message: EmailMultiAlternatives) -> dict:
    return {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "alternatives": [[_b(content), mimetype] for content, mimetype in message.alternatives],
        "attachments": [
            [name, _b(content), mimetype] for name, content, mimetype in message.attachments
        ],
    }


def _message_from_dict(data: dict) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=data["subject"],
        body=data["body"],
        from_email=data["from_email"],
        to=data["to"],
        cc=data["cc"],
        bcc=data["bcc"],
        reply_to=data["reply_to"],
        headers=data["headers"],
    )
    for content, mimetype in data["alternatives"]:
        message.attach_alternative(_unb(content), mimetype)
    for name, content, mimetype in data["attachments"]:
        message.attach(name, _unb(content), mimetype)
    return message
