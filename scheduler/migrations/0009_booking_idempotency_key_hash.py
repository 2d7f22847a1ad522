from django.db import migrations


class Migration(migrations.Migration):
    """The column holds the SHA-256 of the Idempotency-Key, never the key: say so."""

    dependencies = [
        ("scheduler", "0008_waitlist"),
    ]

    operations = [
        migrations.RenameField(
            model_name="booking",
            old_name="idempotency_key",
            new_name="idempotency_key_hash",
        ),
    ]
