"""Never worse than the libraries: our importer against a plain library reading.

The plain reading is what icalendar + x-wr-timezone + recurring-ical-events give on their
own (each file in a fresh time zone cache, as in a fresh process), with the same busy
rules applied. Over every calendar we have — tests/data/ics and the real-world-shaped
calendars that ship with icalendar and recurring-ical-events — the two must agree, except
where IMPROVEMENTS lists the file with the reason our reading is the better one.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import x_wr_timezone

from sync.ics.subscribe import ImportLimitError, busy_span_of_component, ics_busy_blocks

OURS = Path(__file__).resolve().parent.parent / "data" / "ics"
EXPECTED = json.loads((OURS / "expected.json").read_text())
ICALENDAR = Path(icalendar.__file__).parent / "tests" / "calendars"
RECURRING = Path(recurring_ical_events.__file__).parent / "test" / "calendars"
ZONE = ZoneInfo(EXPECTED["zone"])
OUR_WINDOW = tuple(
    datetime.fromisoformat(EXPECTED["window"][k].replace("Z", "+00:00")) for k in ("start", "end")
)
# The library calendars are dated from the 1990s to the 2030s: a wide window.
LIBRARY_WINDOW = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))

UNREADABLE = "unreadable"  # the reading raised (not an iCalendar file, cannot be parsed)

ONE_BAD_COMPONENT = (
    "One broken component (an event without DTSTART, a property icalendar cannot parse, "
    "a repeating event whose dates mix types) makes the plain reading fail for the whole "
    "file: icalendar raises, or recurring-ical-events stops at the first such event. We "
    "skip and report that component alone and keep the rest (field notes)."
)
# file name -> why our reading differs from the plain one, and is better.
IMPROVEMENTS = {
    "cr_only.ics": "CR-only line ends (classic Mac OS): icalendar splits only at CRLF/LF and "
    "sees one line; we split at CR too, as RFC 5545 readers in the wild do.",
    "broken_lines.ics": "A garbage line and a VTODO dated year -001 make icalendar raise on "
    "the whole file; we skip those and keep the four good events.",
    **dict.fromkeys(
        [
            "america_new_york_forward_reference.ics",
            "big_bad_calendar.ics",
            "broken_ical.ics",
            "created_calendar_with_unicode_fields.ics",
            "issue_104_broken_calendar.ics",
            "issue_1050_uid_in_description.ics",
            "issue_1081_with_summary.ics",
            "issue_1549_binary_attachment.ics",
            "issue_1561_image_value.ics",
            "issue_322_expected_calendar.ics",
            "issue_722_missing_timezones.ics",
            "issue_798_related_to.ics",
            "multiple_timezones.ics",
            "pacific_fiji.ics",
            "parsing_error_in_UTC_offset.ics",
            "pr_480_summary_with_colon.ics",
            "rfc_5545_RDATE_example.ics",
            "rfc_6868.ics",
            "rfc_7256_multi_value_parameters.ics",
            "rfc_7986_conferences.ics",
            "rfc_7986_image.ics",
            "rfc_9253_gap.ics",
            "rfc_9253_related_to.ics",
            "small_bad_calendar.ics",
        ],
        ONE_BAD_COMPONENT,
    ),
}
# file name -> why we refuse what the plain reading accepts.
REFUSED = dict.fromkeys(
    [
        "issue_178_component_with_invalid_name_represented.ics",
        "issue_178_custom_component_contains_other.ics",
    ],
    "Not a VCALENDAR (a bare custom component): icalendar reads any component, but a "
    "subscribed feed must be a calendar, or an error page that happens to parse would "
    "silently mirror no busy time while the connection looks fine.",
)


def corpus():
    files = [(path, OUR_WINDOW) for path in sorted(OURS.glob("*.ics"))]
    for folder in (ICALENDAR, RECURRING):
        files += [(path, LIBRARY_WINDOW) for path in sorted(folder.glob("*.ics"))]
    return files


def as_spans(blocks):
    return sorted(
        (b.astimezone(UTC).isoformat(), e.astimezone(UTC).isoformat(), uid) for b, e, uid in blocks
    )


def plain_reading(body: bytes, start: datetime, end: datetime):
    """icalendar + x-wr-timezone + recurring-ical-events and nothing else, then busy rules."""
    icalendar.use_zoneinfo()  # a fresh custom time zone cache, as in a new process
    try:
        calendar = x_wr_timezone.to_standard(icalendar.Calendar.from_ical(body))
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        wide = (
            (start - timedelta(days=1)).astimezone(ZONE),
            (end + timedelta(days=1)).astimezone(ZONE),
        )
        blocks = []
        for event in query.between(*wide):
            if event.name != "VEVENT":
                continue
            span = busy_span_of_component(event, ZONE)
            if span is not None and span[0] < end and span[1] > start:
                blocks.append((*span, str(event.get("UID", ""))[:1024]))
    except Exception:  # every way the plain reading can fail counts the same
        return UNREADABLE
    return as_spans(blocks)


def our_reading(body: bytes, start: datetime, end: datetime):
    try:
        return as_spans(ics_busy_blocks(body, zone=ZONE, start=start, end=end).blocks)
    except (ValueError, ImportLimitError):
        return UNREADABLE


CORPUS = corpus()


def test_the_corpus_is_the_whole_corpus():
    names = {path.name for path, _ in CORPUS}
    assert set(EXPECTED["files"]) <= names
    assert len(CORPUS) > 200  # ours, icalendar's and recurring-ical-events' calendars
    assert set(IMPROVEMENTS) <= names and set(REFUSED) <= names


@pytest.mark.parametrize(("path", "window"), CORPUS, ids=lambda x: getattr(x, "name", ""))
def test_never_worse_than_the_libraries(path, window):
    body = path.read_bytes()
    plain = plain_reading(body, *window)
    ours = our_reading(body, *window)
    if path.name in REFUSED:
        assert ours == UNREADABLE and plain != UNREADABLE
        return
    if path.name not in IMPROVEMENTS:
        assert ours == plain, "differs from the plain library reading, and is not listed"
        return
    # A listed improvement must still be one: different, and readable where plain is not.
    assert ours != plain, f"no longer differs: remove it from IMPROVEMENTS ({path.name})"
    assert ours != UNREADABLE
    if plain != UNREADABLE:
        assert set(plain) <= set(ours), "an improvement may add busy time, never lose it"
