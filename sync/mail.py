"""E-mail to clients and the practitioner, with calendar invitations for clients.

Times are shown in the practitioner's zone, with the zone named. Each message has a
plain-text and an HTML part; client messages about bookings carry an .ics invitation
(METHOD:REQUEST to create or move, METHOD:CANCEL to cancel; one VEVENT per session, the
same UID every time, SEQUENCE from the session).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from scheduler.models import Booking, Question, Session
from sync import connectors
from sync.channels.email import mail_enqueue
from sync.ics.writer import address, instant, line, param, text

INVITE_PRODID = "-//BSR scheduling service//Invitations 1.0//NL"


def manage_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("manage-page", args=[token])


def session_uid(session: Session) -> str:
    return f"session-{session.pk}@{settings.ICS_UID_DOMAIN}"


def invitation(booking: Booking, *, method: str) -> bytes:
    """An iTIP message for the client's calendar: REQUEST or CANCEL, every session.
    Written by sync.ics.writer, so nothing the client typed can end a line."""
    practitioner = booking.practitioner
    organizer = practitioner.email or settings.DEFAULT_FROM_EMAIL
    parts = [
        "BEGIN:VCALENDAR\r\n",
        line("PRODID", INVITE_PRODID),
        line("VERSION", "2.0"),
        line("METHOD", method),
    ]
    for session in booking.sessions.order_by("position"):
        changed = instant(session.updated_at)
        cancelled = method == "CANCEL" or session.status == Session.Status.CANCELLED
        parts += [
            "BEGIN:VEVENT\r\n",
            line("UID", session_uid(session)),
            line("DTSTAMP", changed),
            line("LAST-MODIFIED", changed),
            line("DTSTART", instant(session.start)),
            line("DTEND", instant(session.end)),
            line("SEQUENCE", str(session.sequence)),
            line("SUMMARY", text(f"{booking.appointment_type.name} — {practitioner.name}")),
            line("STATUS", "CANCELLED" if cancelled else "CONFIRMED"),
            line(f"ORGANIZER;CN={param(practitioner.name)}", address(f"mailto:{organizer}")),
            line(
                f"ATTENDEE;CN={param(booking.client_name)};ROLE=REQ-PARTICIPANT;"
                "PARTSTAT=ACCEPTED;RSVP=FALSE",
                address(f"mailto:{booking.client_email}"),
            ),
            "END:VEVENT\r\n",
        ]
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode()


def _sessions_for_display(booking: Booking):
    zone = booking.practitioner.zone
    return [
        {
            "start": s.start.astimezone(zone),
            "end": s.end.astimezone(zone),
            "cancelled": s.status == Session.Status.CANCELLED,
        }
        for s in booking.sessions.order_by("position")
    ]


def _queue(
    *,
    practitioner_id: int,
    now: datetime,
    to: str,
    template: str,
    context: dict,
    language: str,
    zone: str,
    invite: bytes | None = None,
    method: str | None = None,
    reply_to: str | None = None,
    question: Question | None = None,
):
    """Render the message now (what is true at this change) and leave it in the outbox
    (sync/channels/email.py)."""
    # Template date filters show the active zone: make it the practitioner's, as named.
    with translation.override(language), timezone.override(zone):
        subject = render_to_string(f"sync/email/{template}_subject.txt", context).strip()
        text = render_to_string(f"sync/email/{template}.txt", context)
        html = render_to_string(f"sync/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
    )
    message.attach_alternative(html, "text/html")
    if invite is not None:
        # As a calendar part (clients show accept buttons) and as an attachment to open.
        message.attach_alternative(invite.decode(), f"text/calendar; method={method}")
        message.attach("invite.ics", invite, f"text/calendar; method={method}")
    return mail_enqueue(message, practitioner_id=practitioner_id, now=now, question=question)


def _booking_context(booking: Booking, **extra) -> dict:
    return {
        "booking": booking,
        "practitioner": booking.practitioner,
        "sessions": _sessions_for_display(booking),
        "zone": booking.practitioner.timezone,
        "notice_hours": settings.CLIENT_CHANGE_NOTICE_HOURS,
        **extra,
    }


def booking_confirmation_queue(booking: Booking, *, manage_token: str, now: datetime):
    context = _booking_context(booking, manage_url=manage_url(manage_token))
    return _queue(
        practitioner_id=booking.practitioner_id,
        now=now,
        to=booking.client_email,
        template="client_confirmed",
        context=context,
        language=booking.language,
        zone=booking.practitioner.timezone,
        invite=invitation(booking, method="REQUEST"),
        method="REQUEST",
        reply_to=booking.practitioner.email or None,
    )


def booking_rescheduled_queue(booking: Booking, *, now: datetime):
    return _queue(
        practitioner_id=booking.practitioner_id,
        now=now,
        to=booking.client_email,
        template="client_rescheduled",
        context=_booking_context(booking),
        language=booking.language,
        zone=booking.practitioner.timezone,
        invite=invitation(booking, method="REQUEST"),
        method="REQUEST",
        reply_to=booking.practitioner.email or None,
    )


def booking_cancelled_queue(booking: Booking, *, now: datetime, message: str = ""):
    return _queue(
        practitioner_id=booking.practitioner_id,
        now=now,
        to=booking.client_email,
        template="client_cancelled",
        context=_booking_context(booking, message=message),
        language=booking.language,
        zone=booking.practitioner.timezone,
        invite=invitation(booking, method="CANCEL"),
        method="CANCEL",
        reply_to=booking.practitioner.email or None,
    )


def practitioner_notice_queue(booking: Booking, *, event: str, now: datetime):
    """Tell the practitioner: event is "created", "cancelled" or "rescheduled"."""
    if not booking.practitioner.email:
        return None
    return _queue(
        practitioner_id=booking.practitioner_id,
        now=now,
        to=booking.practitioner.email,
        template="practitioner_booking",
        context=_booking_context(booking, event=event),
        language=settings.LANGUAGE_CODE,
        zone=booking.practitioner.timezone,
        reply_to=booking.client_email,
    )


def question_queue(question: Question, *, now: datetime):
    """The question to the practitioner; `emailed_at` is set when it has gone out."""
    return _queue(
        practitioner_id=question.practitioner_id,
        now=now,
        to=question.practitioner.email or settings.DEFAULT_FROM_EMAIL,
        template="practitioner_question",
        context={"question": question},
        language=settings.LANGUAGE_CODE,
        zone=question.practitioner.timezone,
        reply_to=question.email,
        question=question,
    )


def question_reply_queue(question: Question, *, reply: str, now: datetime):
    """The practitioner's answer to whoever asked, in their language; answers to it go to
    the practitioner."""
    practitioner = question.practitioner
    return _queue(
        practitioner_id=practitioner.pk,
        now=now,
        to=question.email,
        template="client_question_reply",
        context={"question": question, "reply": reply, "practitioner": practitioner},
        language=question.language if question.language in Booking.Language.values else "nl",
        zone=practitioner.timezone,
        reply_to=practitioner.email or None,
    )


def reminders_due(*, now: datetime):
    """Sessions starting between 12 and 36 hours from now that have had no reminder."""
    return (
        Session.objects.filter(
            status=Session.Status.CONFIRMED,
            reminder_sent_at__isnull=True,
            start__gte=now + timedelta(hours=12),
            start__lt=now + timedelta(hours=36),
        )
        .select_related("booking__practitioner", "booking__appointment_type")
        .order_by("start")
    )


def reminder_queue(session: Session, *, now: datetime) -> bool:
    """Queue the reminder and mark the session in one transaction: once, whatever fails.
    False when another worker got there first."""
    with transaction.atomic():
        marked = Session.objects.filter(
            pk=session.pk, reminder_sent_at__isnull=True, status=Session.Status.CONFIRMED
        ).update(reminder_sent_at=now)
        if not marked:
            return False
        booking = session.booking
        zone = booking.practitioner.zone
        context = _booking_context(
            booking,
            session={"start": session.start.astimezone(zone), "end": session.end.astimezone(zone)},
        )
        _queue(
            practitioner_id=booking.practitioner_id,
            now=now,
            to=booking.client_email,
            template="client_reminder",
            context=context,
            language=booking.language,
            zone=booking.practitioner.timezone,
            reply_to=booking.practitioner.email or None,
        )
    return True


def reconnect_needed_queue(connection, *, now: datetime):
    """Tell the practitioner that a calendar link needs them to connect again, in the words
    of its kind (its connector's)."""
    practitioner = connection.practitioner
    return _queue(
        practitioner_id=practitioner.pk,
        now=now,
        to=practitioner.email or settings.DEFAULT_FROM_EMAIL,
        template="practitioner_reconnect",
        context={
            "connection": connection,
            "practitioner": practitioner,
            "reconnect": connectors.of(connection).reconnect,
        },
        language=settings.LANGUAGE_CODE,
        zone=practitioner.timezone,
    )


def login_locked_queue(*, user, failures: int, addresses: int, until: datetime, now: datetime):
    """Tell the owner of an account that its login is locked (api.auth_backends sends this
    once per lock, in the transaction that records the failure reaching the limit). A
    practitioner hears it at the practice's address (else the account's, else the
    service's, as for a broken calendar link); another account at its own address, if any."""
    practitioner = getattr(user, "practitioner", None)
    if practitioner is not None:
        to = practitioner.email or user.email or settings.DEFAULT_FROM_EMAIL
    else:
        to = user.email
    if not to:
        return None
    return _queue(
        practitioner_id=practitioner.pk if practitioner else None,
        now=now,
        to=to,
        template="practitioner_login_locked",
        context={
            "username": user.get_username(),
            "failures": failures,
            "addresses": addresses,
            "minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
            "until": until,
        },
        language=settings.LANGUAGE_CODE,
        zone=practitioner.timezone if practitioner else settings.DEFAULT_TIMEZONE,
    )
