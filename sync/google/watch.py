"""Watch channels: Google says "pull now" for a calendar that blocks time (polling stays
the fallback); channels are renewed a day before they expire."""

import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q

from sync.google.client import TRANSIENT, HttpError, status_of
from sync.google.connection import service_or_alert, trouble
from sync.models import CalendarConnection

log = logging.getLogger(__name__)

CHANNEL_TTL = timedelta(days=7)
CHANNEL_RENEW_BEFORE = timedelta(days=1)


def channels_renew_all(*, now: datetime) -> None:
    """Keep a watch channel on every calendar that blocks time, for every connection."""
    for connection in CalendarConnection.objects.filter(
        kind=CalendarConnection.Kind.GOOGLE, status=CalendarConnection.Status.OK
    ):
        try:
            channels_renew(connection=connection, now=now)
        except Exception:  # one practice's trouble must not stop the others' renewals
            log.exception("renewing the channels of connection %s failed", connection.pk)


def channels_renew(*, connection: CalendarConnection, now: datetime, service=None) -> None:
    """Watch every busy calendar; renew channels a day before they expire."""
    due = connection.google_calendars.filter(
        Q(channel_id="") | Q(channel_expires_at__lt=now + CHANNEL_RENEW_BEFORE)
    )
    if not due.exists():
        return
    service = service or service_or_alert(connection, now)
    if service is None:
        return
    address = settings.PUBLIC_BASE_URL.rstrip("/") + "/sync/google/webhook/"
    for sync in due:
        if sync.channel_id:
            try:
                service.channels().stop(
                    body={"id": sync.channel_id, "resourceId": sync.channel_resource_id}
                ).execute(num_retries=2)
            except HttpError:
                pass  # an expired channel is gone anyway
            except TRANSIENT as error:  # a refused grant surfaces on the first call
                trouble(connection, error, now, "Watching Google Calendar failed")
                return
        channel_id, token = uuid.uuid4().hex, secrets.token_urlsafe(32)
        expiration = int((now + CHANNEL_TTL).timestamp() * 1000)
        try:
            channel = (
                service.events()
                .watch(
                    calendarId=sync.calendar_id,
                    body={
                        "id": channel_id,
                        "type": "web_hook",
                        "address": address,
                        "token": token,
                        "expiration": str(expiration),
                    },
                )
                .execute(num_retries=2)
            )
        except HttpError as error:
            log.warning("watch failed for %s: %s (polling continues)", sync, status_of(error))
            continue
        except TRANSIENT as error:
            trouble(connection, error, now, "Watching Google Calendar failed")
            return
        sync.channel_id, sync.channel_token = channel_id, token
        sync.channel_resource_id = channel.get("resourceId", "")
        sync.channel_expires_at = datetime.fromtimestamp(
            int(channel.get("expiration", expiration)) / 1000, tz=UTC
        )
        sync.save()
