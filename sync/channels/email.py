"""E-mail as an outbox channel: queue a rendered message, hand it to the mail server.

Exactly once: the message is stored sealed (sync/sealing.py) with one Message-ID fixed
when it is queued; `sending_at` is recorded before it goes to the mail server and
`done_at` after. A worker killed between the two leaves an item that is sent again with
the same Message-ID, which the mail file backend stores under that id (one file) and mail
systems treat as the same message; an item never gets a second Message-ID.
"""

import base64
import json
import logging
from datetime import datetime
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from scheduler.models import Question
from sync import outbox
from sync.models import OutboxItem

log = logging.getLogger(__name__)


def mail_enqueue(
    message: EmailMultiAlternatives, *, practitioner_id: int, now: datetime, question=None
) -> OutboxItem:
    """Store one e-mail for delivery after commit; its Message-ID is fixed now. A question's
    e-mail marks the question as sent when it has gone out."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    message_id = make_msgid(domain=domain)
    message.extra_headers["Message-ID"] = message_id
    return outbox.enqueue(
        kind=OutboxItem.Kind.MAIL,
        practitioner_id=practitioner_id,
        now=now,
        message=json.dumps(_message_to_dict(message)),
        message_id=message_id,
        question=question,
    )


def deliver(item: OutboxItem, *, message: str, now: datetime, clients: dict) -> int:
    """Hand one claimed e-mail to the mail server; 1 when it went."""
    email = _message_from_dict(json.loads(message))
    if item.sending_at is not None:
        log.warning("outbox %s: an earlier attempt may have sent it; same Message-ID", item.pk)
    outbox.sending(item, now)
    try:
        get_connection(timeout=settings.EMAIL_TIMEOUT).send_messages([email])
    except Exception as error:  # SMTP refusals, timeouts, DNS: all retried later
        outbox.retry_later(item, f"{type(error).__name__}: {error}"[:2000], now)
        return 0
    outbox.done(item.pk, now=now)
    if item.question_id is not None:
        Question.objects.filter(pk=item.question_id).update(emailed_at=now)
    return 1


def register() -> None:
    outbox.register(OutboxItem.Kind.MAIL, outbox.Deliverer(deliver=deliver))


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
