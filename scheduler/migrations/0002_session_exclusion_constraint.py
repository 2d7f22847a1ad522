"""PostgreSQL only: no two live sessions of one practitioner may overlap, buffers included.

This is the last line against double booking: it holds even if the booking code has a
bug. SQLite has no exclusion constraints; there IMMEDIATE transactions serialise writes.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduler_session ADD CONSTRAINT session_no_overlap EXCLUDE USING gist (
    practitioner_id WITH =,
    tstzrange(blocked_start, blocked_end, '[)') WITH &&
) WHERE (status <> 'cancelled');
"""

DROP = "ALTER TABLE scheduler_session DROP CONSTRAINT IF EXISTS session_no_overlap;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scheduler", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
