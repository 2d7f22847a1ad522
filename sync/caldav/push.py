"""Bookings -> CalDAV: make our event for a session match the session, whatever happened.

One VEVENT per session, in a resource whose name and UID come from the session, so no
retry can make a second one:

* create with `If-None-Match: *`; a 412 means an earlier attempt (whose answer was lost)
  or someone else already made it: read its etag and update it instead;
* change with `If-Match: <etag>`; a 412 means it changed meanwhile: re-read, retry;
* delete; 404 means it is gone already, which is what we wanted.

A reschedule changes the same resource, so the UID stays. SUMMARY holds no personal
data; the client's details are in the (private) DESCRIPTION, as for Google. The event is
written by sync.ics.writer, the writer of the feeds: a client's note can hold no line end
of any kind (U+2028 and NEL included), so it can never open a second event in the PUT.
"""

from urllib.parse import urljoin

from django.conf import settings
from django.urls import reverse

from scheduler.models import Booking, Session
from sync.caldav.client import Dav, DavError, Transient, clark
from sync.ics.writer import instant, line, text
from sync.models import CalDAVEvent, CalendarConnection

OWN_PREFIX = "bsr-session-"
PRODID = "-//BSR scheduler//CalDAV push//EN"
CALENDAR_TYPE = "text/calendar; charset=utf-8"


def resource_name(session: Session) -> str:
    return f"{OWN_PREFIX}{session.pk}.ics"


def uid_for(session: Session) -> str:
    return f"{OWN_PREFIX}{session.pk}@{settings.ICS_UID_DOMAIN}"


def is_own_uid(uid: str) -> bool:
    return uid.startswith(OWN_PREFIX) and uid.endswith("@" + settings.ICS_UID_DOMAIN)


def is_own_href(href: str) -> bool:
    return href.rstrip("/").rsplit("/", 1)[-1].startswith(OWN_PREFIX)


def event_ics(session: Session) -> bytes:
    booking = session.booking
    admin = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "admin:scheduler_booking_change", args=[booking.pk]
    )
    changed = instant(session.updated_at)  # DTSTAMP from the data, not the clock
    details = "\n".join(
        [
            f"Cliënt: {booking.client_name}",
            f"E-mail: {booking.client_email}",
            f"Telefoon: {booking.client_phone or '-'}",
            f"Notities: {booking.notes or '-'}",
            f"Boeking: {admin}",
        ]
    )
    parts = [
        "BEGIN:VCALENDAR\r\n",
        line("PRODID", PRODID),
        line("VERSION", "2.0"),
        "BEGIN:VEVENT\r\n",
        line("UID", uid_for(session)),
        line("DTSTAMP", changed),
        line("LAST-MODIFIED", changed),
        line("SEQUENCE", str(session.sequence)),
        line("DTSTART", instant(session.start)),
        line("DTEND", instant(session.end)),
        line("SUMMARY", text(f"{booking.appointment_type.name} (BSR)")),
        line("DESCRIPTION", text(details)),
    ]
    if settings.PRACTICE_LOCATION:
        parts.append(line("LOCATION", text(settings.PRACTICE_LOCATION)))
    parts += [
        line("CLASS", "PRIVATE"),
        line("TRANSP", "OPAQUE"),
        line("STATUS", "CONFIRMED"),
        line("X-BSR-SESSION", str(session.pk)),
        "END:VEVENT\r\n",
        "END:VCALENDAR\r\n",
    ]
    return "".join(parts).encode()


def session_push(*, connection: CalendarConnection, session: Session, dav: Dav) -> str:
    """Bring the server in line with the session now; returns what was done.
    Raises CalDAVTrouble for the caller to judge."""
    link = CalDAVEvent.objects.filter(connection=connection, session=session).first()
    live = (
        session.status == Session.Status.CONFIRMED
        and session.booking.status == Booking.Status.CONFIRMED
    )
    calendar = connection.push_calendar_id
    if link is not None and not link.deleted and (not live or link.calendar_url != calendar):
        # Cancelled, or the practitioner chose another calendar: the old one goes.
        _delete(dav, link.href)
        _remember(connection, session, link.calendar_url, link.href, etag="", deleted=True)
    if not live:
        if link is None and calendar:
            # Never confirmed pushed, but an earlier attempt may have created it.
            href = urljoin(calendar, resource_name(session))
            _delete(dav, href)
            _remember(connection, session, calendar, href, etag="", deleted=True)
        return "deleted"
    if not calendar:
        raise DavError("No calendar is chosen to receive bookings (push_calendar_id).")
    href = urljoin(calendar, resource_name(session))
    link = CalDAVEvent.objects.filter(connection=connection, session=session).first()
    etag = link.etag if link and not link.deleted and link.href == href else ""
    body = event_ics(session)
    for _ in range(4):
        if etag:
            answer = dav.request(
                "PUT",
                href,
                body=body,
                headers={"Content-Type": CALENDAR_TYPE, "If-Match": etag},
                allow=(412, 404),
            )
            if answer.status == 404:  # deleted by someone: make it again
                etag = ""
                continue
        else:
            answer = dav.request(
                "PUT",
                href,
                body=body,
                headers={"Content-Type": CALENDAR_TYPE, "If-None-Match": "*"},
                allow=(412,),
            )
        if answer.status == 412:  # exists (lost answer) or changed meanwhile: re-read
            etag = current_etag(dav, href)
            continue
        etag = answer.etag or current_etag(dav, href)
        _remember(connection, session, calendar, href, etag=etag)
        return "updated" if link and link.etag else "created"
    raise Transient("The event kept changing on the calendar server; will try again.")


def current_etag(dav: Dav, href: str) -> str:
    """The resource's etag now, or "" when it does not exist."""
    answer = dav.request(
        "PROPFIND",
        href,
        body='<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
        "</D:prop></D:propfind>",
        headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"},
        expect=(207,),
        allow=(404,),
    )
    if answer.status == 404:
        return ""
    from sync.caldav.client import parse_multistatus

    for resource in parse_multistatus(answer):
        tag = resource.text(clark("D:getetag"))
        if tag:
            return tag
    return ""


def _delete(dav: Dav, href: str) -> None:
    dav.request("DELETE", href, expect=(200, 204), allow=(404, 410))


def _remember(connection, session, calendar_url, href, *, etag: str, deleted: bool = False):
    CalDAVEvent.objects.update_or_create(
        connection=connection,
        session=session,
        defaults={"calendar_url": calendar_url, "href": href, "etag": etag, "deleted": deleted},
    )
