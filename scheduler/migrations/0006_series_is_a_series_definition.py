from django.db import migrations


class Migration(migrations.Migration):
    """An appointment type's `sessions` is a series definition: named `series` (the API
    keeps its contract name `sessions`)."""

    dependencies = [("scheduler", "0005_booking_anonymised_at")]

    operations = [migrations.RenameField("appointmenttype", "sessions", "series")]
