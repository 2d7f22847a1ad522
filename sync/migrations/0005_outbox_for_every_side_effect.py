"""One outbox for every side effect: the Google push queue also carries e-mail."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def practitioner_from_connection(apps, schema_editor):
    OutboxItem = apps.get_model("sync", "OutboxItem")
    for item in OutboxItem.objects.filter(practitioner__isnull=True).select_related("connection"):
        item.practitioner_id = item.connection.practitioner_id
        item.save(update_fields=["practitioner"])


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("scheduler", "0005_booking_anonymised_at"),
        ("sync", "0004_import_context"),
    ]

    operations = [
        migrations.RenameModel("SyncOutbox", "OutboxItem"),
        migrations.AddField(
            model_name="outboxitem",
            name="kind",
            field=models.CharField(
                choices=[
                    ("mail", "Mail"),
                    ("google", "Google"),
                    ("google_revoke", "Google Revoke"),
                ], default="google", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="outboxitem",
            name="practitioner",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="outbox",
                to="scheduler.practitioner",
            ),
        ),
        migrations.AddField(
            model_name="outboxitem", name="message", field=models.TextField(blank=True)
        ),
        migrations.AddField(
            model_name="outboxitem",
            name="message_id",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="outboxitem",
            name="sending_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboxitem",
            name="question",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="scheduler.question",
            ),
        ),
        migrations.AlterField(
            model_name="outboxitem",
            name="connection",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="outbox",
                to="sync.calendarconnection",
            ),
        ),
        migrations.AlterField(
            model_name="outboxitem",
            name="session",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="outbox",
                to="scheduler.session",
            ),
        ),
        migrations.AddField(
            model_name="calendarconnection",
            name="google_account",
            field=models.CharField(blank=True, max_length=320),
        ),
        migrations.AddField(
            model_name="oauthstate",
            name="user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(practitioner_from_connection, migrations.RunPython.noop),
    ]
