"""Key rotation: after reencrypttokens, the old key can go and nothing is lost."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from scheduler.booking import booking_create
from sync import outbox
from sync.google.tokens import decrypt_token, encrypt_token
from sync.models import CalendarConnection, OutboxItem
from tests import factories
from tests.factories import AMSTERDAM, local, utc

pytestmark = pytest.mark.django_db

NOW = utc(2027, 2, 22, 7)


def test_old_key_can_be_removed_after_reencrypting(settings, mailoutbox, clock_at_now):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old]
    person = factories.practitioner()
    follow_up = factories.appointment_type(person, duration_minutes=30)
    connection = CalendarConnection.objects.create(
        practitioner=person,
        kind=CalendarConnection.Kind.GOOGLE,
        google_refresh_token=encrypt_token("refresh-secret"),
        google_access_token=encrypt_token("access-secret"),
    )
    # Its e-mails wait in the outbox, encrypted (the test transaction never commits).
    booking_create(
        appointment_type=follow_up,
        start=local(AMSTERDAM, 2027, 3, 1, 9),
        client=factories.client(1),
        now=NOW,
    )
    waiting = list(OutboxItem.objects.filter(kind="mail", done_at__isnull=True))
    assert len(waiting) == 1  # the practitioner has no e-mail address: the client's only

    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("reencrypttokens", stdout=out)
    assert "1 connection(s) and 1 waiting outbox item(s)" in out.getvalue()
    settings.TOKEN_ENCRYPTION_KEYS = [new]  # the old key is gone
    connection.refresh_from_db()
    assert decrypt_token(connection.google_refresh_token) == "refresh-secret"
    assert decrypt_token(connection.google_access_token) == "access-secret"
    OutboxItem.objects.filter(kind="google").delete()  # no Google to talk to here
    assert outbox.deliver_due(now=NOW) == 1
    [sent] = mailoutbox
    assert sent.to == ["client1@example.nl"] and "/manage/" in sent.body
