"""Re-encrypting every secret at rest under the newest TOKEN_ENCRYPTION_KEYS key.

Rotation: put a new key first in TOKEN_ENCRYPTION_KEYS (keep the old ones after it), run
`python manage.py reencrypttokens` (beat also runs it weekly); once it has run with the
new key first, the old keys can be removed.
"""

from django.db import transaction

from sync import outbox
from sync.google.tokens import reencrypt_token
from sync.models import CalendarConnection

CONNECTION_SECRETS = ("google_refresh_token", "google_access_token", "caldav_password")


def secrets_reencrypt() -> dict[str, int]:
    """Returns how many connections and outbox items were re-encrypted."""
    connections = 0
    with transaction.atomic():
        for connection in CalendarConnection.objects.select_for_update():
            values = {
                field: reencrypt_token(getattr(connection, field))
                for field in CONNECTION_SECRETS
                if getattr(connection, field)
            }
            if values:
                CalendarConnection.objects.filter(pk=connection.pk).update(**values)
                connections += 1
        items = outbox.messages_reencrypt(reencrypt_token)
    return {"connections": connections, "outbox": items}
