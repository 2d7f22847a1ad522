"""Key rotation: every secret at rest sealed again under the newest TOKEN_ENCRYPTION_KEYS key.

Rotation: put a new key first in TOKEN_ENCRYPTION_KEYS (keep the old ones after it), run
`python manage.py reencrypttokens` (beat also runs it weekly); once it has run with the
new key first, the old keys can be removed. The secrets are each connector's sealed
fields and the messages waiting in the outbox.
"""

from django.db import transaction

from sync import connectors, outbox
from sync.models import CalendarConnection
from sync.sealing import reseal


def secrets_reencrypt() -> dict[str, int]:
    """Returns how many connections and outbox items were sealed again."""
    fields = {field for connector in connectors.every() for field in connector.sealed_fields}
    connections = 0
    with transaction.atomic():
        for connection in CalendarConnection.objects.select_for_update():
            values = {
                field: reseal(getattr(connection, field))
                for field in sorted(fields)
                if getattr(connection, field)
            }
            if values:
                CalendarConnection.objects.filter(pk=connection.pk).update(**values)
                connections += 1
        items = outbox.messages_reseal()
    return {"connections": connections, "outbox": items}
