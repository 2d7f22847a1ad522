"""The practitioner's workspace: agenda, hours, types, calendars and questions, in Dutch."""
