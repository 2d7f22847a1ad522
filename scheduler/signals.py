"""What happened to bookings, for parts that must not be known here (e-mail, calendars).

Sent inside the booking's transaction; receivers write outbox items in it, so a
rolled-back booking never leaves a trace outside.
"""

from django.dispatch import Signal

# booking, manage_token (the raw token exists only now)
booking_created = Signal()
# booking, message (the practitioner's note to the client, may be empty)
booking_cancelled = Signal()
# booking
booking_rescheduled = Signal()
# question
question_received = Signal()
# booking (its client data was just removed: copies elsewhere must follow)
booking_anonymised = Signal()
# entry, manage_token (a client joined the wait list; the raw token exists only now)
waitlist_joined = Signal()
