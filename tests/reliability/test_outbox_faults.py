"""Faults an outside review found in the outbox and the Google link, each kept as a
regression test: bad items never stop the others, leases never double a delivery,
revocations are done only when Google has heard them."""

from datetime import timedelta
from unittest import mock

import google.auth.exceptions
import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from scheduler.booking import booking_create
from sync import outbox, tasks
from sync.google.tokens import encrypt_token
from sync.models import CalendarConnection, GoogleCalendarSync, OutboxItem
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db

NOW = utc(2027, 2, 22, 7)


def _book(person, n, hour=9):
    kind = factories.appointment_type(person, duration_minutes=30)
    return booking_create(
        appointment_type=kind,
        start=local(AMSTERDAM, 2027, 3, 1, hour),
        client=factories.client(n),
        now=NOW,
    )


# --- 1. invalid_grant inside channels.stop escapes channels_renew --------------------------


def _google(person, **fields):
    return CalendarConnection.objects.create(
        practitioner=person,
        kind=CalendarConnection.Kind.GOOGLE,
        google_refresh_token=encrypt_token("refresh"),
        **fields,
    )


def test_invalid_grant_in_channel_stop_marks_reconnect_and_spares_other_practices():
    revoked = _google(factories.practitioner())
    healthy = _google(factories.practitioner())
    for connection in (revoked, healthy):
        GoogleCalendarSync.objects.create(
            connection=connection,
            calendar_id="primary",
            channel_id="old",
            channel_resource_id="r",
            channel_expires_at=timezone.now() + timedelta(hours=1),  # due for renewal
        )
    refused = google.auth.exceptions.RefreshError(
        "invalid_grant: Token has been expired or revoked."
    )

    def service_for(connection, now):
        service = mock.MagicMock()
        if connection.pk == revoked.pk:
            # The access token was still valid, so the first call (stop) meets the 401 ->
            # refresh -> invalid_grant.
            service.channels.return_value.stop.return_value.execute.side_effect = refused
            service.events.return_value.watch.return_value.execute.side_effect = refused
        else:
            service.events.return_value.watch.return_value.execute.return_value = {
                "resourceId": "new",
                "expiration": str(int((timezone.now() + timedelta(days=7)).timestamp() * 1000)),
            }
        return service

    with mock.patch("sync.google.watch.service_or_alert", side_effect=service_for):
        tasks.google_channels_renew()  # raises RefreshError on the current code

    revoked.refresh_from_db()
    assert revoked.status == CalendarConnection.Status.RECONNECT_NEEDED
    assert GoogleCalendarSync.objects.get(connection=healthy).channel_resource_id == "new"


# --- 2. a mail item that cannot be decrypted (key changed without reencrypttokens) --------


def test_undecryptable_mail_item_does_not_poison_the_outbox(settings, mailoutbox, clock_at_now):
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    person = factories.practitioner()
    _book(person, 1, hour=9)  # sealed under the old key
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # old key dropped
    _book(person, 2, hour=11)  # sealed under the new key
    OutboxItem.objects.exclude(kind="mail").delete()
    poison, good = OutboxItem.objects.filter(kind="mail").order_by("created_at", "pk")

    outbox.deliver_due(now=NOW + timedelta(minutes=1))

    assert [m.to for m in mailoutbox] == [["client2@example.nl"]]
    poison.refresh_from_db()
    good.refresh_from_db()
    assert good.done_at is not None
    assert poison.done_at is None and "decrypted" in poison.last_error  # shown, kept


# --- 3. a revocation that never reached Google is marked done -----------------------------


def test_revoke_with_undecryptable_token_is_not_silently_done(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    person = factories.practitioner()
    item = outbox.revoke_enqueue(
        practitioner_id=person.pk, sealed_token=encrypt_token("refresh-secret"), now=NOW
    )
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with mock.patch("sync.google.oauth.revoke") as revoke:
        outbox.deliver_due(now=NOW)
    item.refresh_from_db()
    assert not revoke.called and item.done_at is None and "decrypted" in item.last_error


def test_revoke_answered_503_is_retried(settings):
    person = factories.practitioner()
    item = outbox.revoke_enqueue(
        practitioner_id=person.pk, sealed_token=encrypt_token("refresh-secret"), now=NOW
    )
    answer = mock.Mock(status_code=503, ok=False)
    answer.raise_for_status.side_effect = Exception("503")
    with mock.patch("sync.google.client.requests.post", return_value=answer) as post:
        outbox.deliver_due(now=NOW)
    assert post.called
    item.refresh_from_db()
    assert item.done_at is None  # Google did not forget the grant; done today


# --- 4. the lease is computed from the batch's start, not the claim's time -----------------


def test_slow_batch_lets_a_sweep_send_the_same_mail_twice(settings, mailoutbox):
    settings.OUTBOX_LEASE_SECONDS = 300
    person = factories.practitioner()
    _book(person, 1, hour=9)
    _book(person, 2, hour=11)
    OutboxItem.objects.exclude(kind="mail").delete()
    start = timezone.now()
    calls = []
    original = EmailBackend.send_messages

    with time_machine.travel(start, tick=False) as clock:

        def slow_send(self, messages):
            calls.append(messages[0].to[0])
            if len(calls) == 1:
                clock.shift(timedelta(seconds=400))  # the first SMTP hand-over was slow
            elif len(calls) == 2:
                # While worker A is still sending the second mail, beat's next sweep runs.
                clock.shift(timedelta(seconds=60))
                outbox.deliver_due(now=timezone.now())
            return original(self, messages)

        with mock.patch.object(EmailBackend, "send_messages", slow_send):
            outbox.deliver_due(now=timezone.now())

    assert sorted(calls) == ["client1@example.nl", "client2@example.nl"]  # one each
