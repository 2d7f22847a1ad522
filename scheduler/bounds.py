"""How far the practice's own settings may go: the model, the engine's value checks and the
API all read their bounds from here."""

MAX_SESSION_MINUTES = 8 * 60
MAX_BUFFER_MINUTES = 4 * 60
MAX_NOTICE_MINUTES = 60 * 24 * 90
MAX_DAYS_AHEAD = 730
MAX_SERIES_SESSIONS = 12
MAX_SERIES_OFFSET_DAYS = 365
MAX_SERIES_WINDOW_DAYS = 14
