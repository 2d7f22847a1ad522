"""How far the practice's own settings may go: the model, the engine's value checks and the
API all read their bounds from here."""

MAX_SESSION_MINUTES = 8 * 60
MAX_BUFFER_MINUTES = 4 * 60
MAX_NOTICE_MINUTES = 60 * 24 * 90
MAX_DAYS_AHEAD = 730
MAX_SERIES_SESSIONS = 12
MAX_SERIES_OFFSET_DAYS = 365
MAX_SERIES_WINDOW_DAYS = 14
# The longest range of dates whose free times one request may compute: GET /api/v1/slots/
# (`end` - `start` < this) and a wait-list join (which records every free time of its range
# as seen). A year of five-minute slots took 3.45 s to store; 62 days covers a month view.
MAX_SLOT_RANGE_DAYS = 62
