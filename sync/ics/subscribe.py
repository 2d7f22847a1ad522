"""Feeds in: turn a subscribed calendar into busy intervals, and store them.

Reading is forgiving: a broken line or component is skipped and reported, never the
whole feed. Zones: IANA and Windows names are understood; an unknown zone, or a floating
time, is read in the practitioner's zone; X-WR-TIMEZONE is honoured (x-wr-timezone).
Recurrence is expanded over the booking horizon (recurring-ical-events), lazily and
within a budget: a feed that would give more occurrences than MAX_OCCURRENCES, or more
busy periods than MAX_BLOCKS, raises ImportLimitError before it is expanded in full.

The text is read the way icalendar reads it, only more forgiving: content lines end at
CRLF, LF or CR (never at U+2028, U+0085 or other characters str.splitlines() knows),
a BOM and whitespace before BEGIN:VCALENDAR are ignored, and the whole calendar is first
given to icalendar as it is; only when that fails are bad lines and components dropped.
"""

import hashlib
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.error import BrokenCalendarProperty
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events.util import convert_to_datetime

MAX_WARNINGS = 50
MAX_BLOCKS = 50_000
# Recurrence instances looked at (busy or not) over the window, before any is built.
MAX_OCCURRENCES = 100_000

_LINE_END = re.compile(r"\r\n|\n|\r")
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(;[^\r\n]*)?:")
_PARAM_TZID = re.compile(r';(TZID)=("[^"]*"|[^;:"]*)', re.IGNORECASE)
_ESCAPED = re.compile(r"\\(.)")
_PARSE_ERRORS = (ValueError, KeyError, IndexError, TypeError, RecursionError)


class ImportLimitError(Exception):
    """The feed asks for more work than one import may take; the message says why."""


@dataclass
class BusyImport:
    """What a feed says is busy, as (start, end, uid) in UTC, and what was read loosely."""

    blocks: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)


def ics_busy_blocks(
    body: bytes,
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    block_all_day: bool = True,
    max_blocks: int = MAX_BLOCKS,
    max_occurrences: int = MAX_OCCURRENCES,
) -> BusyImport:
    """The busy time a calendar holds in [start, end).

    Raises ValueError if unreadable, ImportLimitError if too big to expand.
    """
    result = BusyImport()
    lines = content_lines(decode(body))
    if not any(line.upper() == "BEGIN:VCALENDAR" for line in lines):
        raise ValueError("This is not an iCalendar file (no BEGIN:VCALENDAR).")
    calendar = _parse(_isolate_custom_zones(lines), result)
    _drop_unusable_events(calendar, zone, result)
    calendar = x_wr_timezone.to_standard(calendar)
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    # recurring-ical-events judges all-day dates and floating times in the zone of the
    # window it is given: ask in the practitioner's zone, a day wider, then cut exactly.
    wide = (
        (start - timedelta(days=1)).astimezone(zone),
        (end + timedelta(days=1)).astimezone(zone),
    )
    broken = _check_budget(query, wide[1], max_occurrences)
    for begin, finish, component in _occurrences(query, *wide, broken, result):
        span = _busy_span(component, begin, finish, zone, block_all_day)
        if span is not None and span[0] < end and span[1] > start:
            if len(result.blocks) >= max_blocks:
                raise ImportLimitError(f"more than {max_blocks} busy periods in the next months")
            result.blocks.append((*span, str(component.get("UID", ""))[:1024]))
    result.blocks.sort()
    return result


def decode(body: bytes) -> str:
    """The feed as text, without a byte order mark or whitespace before it begins."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = body.decode("utf-16", errors="replace")
    else:
        text = body.decode("utf-8", errors="replace")
    return text.lstrip("\ufeff \t\r\n")


def calendars_merge(text: str) -> str:
    """Many VCALENDAR objects one after another (CalDAV's one per event) as one calendar:
    every component of each, identical time zone definitions once. Each object stands on
    its own: one left unfinished loses only its open component."""
    parts, zones = [], set()
    component: list[str] = []
    depth = 0
    keep = False
    for line in _LINE_END.split(text):
        if line[:1] in (" ", "\t"):
            if keep:
                component.append(line)
            continue
        upper = line[:16].upper()
        if upper.rstrip() == "BEGIN:VCALENDAR":  # the next object: whatever the last left open
            depth, keep, component = 1, False, []
            continue
        if upper.startswith("BEGIN:"):
            depth += 1
        keep = depth >= 2
        if keep:
            component.append(line)
        if upper.startswith("END:"):
            depth = max(depth - 1, 0)
            if depth == 1 and component:
                block = "\r\n".join(component)
                component = []
                if block[:15].upper() == "BEGIN:VTIMEZONE":
                    if block in zones:
                        continue
                    zones.add(block)
                parts.append(block)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//BSR scheduler//CalDAV pull//EN\r\n"
        + "".join(p + "\r\n" for p in parts)
        + "END:VCALENDAR\r\n"
    )


def content_lines(text: str) -> list[str]:
    """Unfolded content lines: split only at CRLF, LF or CR, as RFC 5545 and icalendar do.

    str.splitlines() would also split at U+2028, U+2029, U+0085, \\v, \\f and \\x1c-\\x1e,
    letting a text value start a line of its own. Blank lines are left out, and a line
    that starts with a space or tab continues the one before (also after blank lines).
    """
    lines: list[str] = []
    parts: list[str] = []
    for raw in _LINE_END.split(text):
        if not raw:
            continue
        if raw[0] in " \t" and parts:
            parts.append(raw[1:])
            continue
        if parts:
            lines.append("".join(parts))
        parts = [raw] if raw.strip() else []
    if parts:
        lines.append("".join(parts))
    return lines


def _clean_lines(lines: list[str], result: BusyImport) -> list[str]:
    """Drop lines that are not content lines (name[;params]:value)."""
    kept = [line for line in lines if _CONTENT_LINE.match(line)]
    if len(kept) < len(lines):
        result.warn(f"{len(lines) - len(kept)} malformed line(s) skipped.")
    return kept


def _value_start(line: str) -> int:
    """Where the value begins: after the first colon outside a quoted parameter."""
    colon = line.find(":")
    if colon < 0:
        return len(line)
    if '"' not in line[:colon]:
        return colon + 1
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return index + 1
    return len(line)


def _unescape(value: str) -> str:
    return _ESCAPED.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


def _isolate_custom_zones(lines: list[str]) -> list[str]:
    """Give each custom VTIMEZONE a name unique to its definition.

    icalendar remembers custom zones by name for the whole process, so two feeds that
    both define "Customized Time Zone" differently would otherwise share one definition.
    Names are compared as icalendar compares them: the TZID property unescaped (Outlook
    writes "TZID:(UTC+07:00) Bangkok\\, Hanoi\\, Jakarta") and the TZID parameter unquoted
    (DTSTART;TZID="(UTC+07:00) Bangkok, Hanoi, Jakarta":...).
    """
    definitions: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        upper = line[:16].upper()
        if upper == "BEGIN:VTIMEZONE":
            current = []
        elif upper == "END:VTIMEZONE" and current is not None:
            name = next((_tzid_property(x) for x in current if _is_tzid_property(x)), None)
            if name and not _known_zone(name):
                definitions[name] = current
            current = None
        elif current is not None:
            current.append(line)
    if not definitions:
        return lines
    renamed = {
        name: f"{name} [{hashlib.sha256('|'.join(body).encode()).hexdigest()[:12]}]"
        for name, body in definitions.items()
    }

    def rename_parameter(match: re.Match) -> str:
        name = match.group(2)
        name = name[1:-1] if name.startswith('"') else name
        if name not in renamed:
            return match.group(0)
        return f';{match.group(1)}="{renamed[name]}"'

    out = []
    for line in lines:
        if _is_tzid_property(line):
            name = _tzid_property(line)
            if name in renamed:
                line = f"{line[: _value_start(line)]}{_escape(renamed[name])}"
        else:
            head = _value_start(line)
            if "TZID" in line[:head].upper():
                line = _PARAM_TZID.sub(rename_parameter, line[:head]) + line[head:]
        out.append(line)
    return out


def _is_tzid_property(line: str) -> bool:
    return line[:5].upper() in ("TZID:", "TZID;")


def _tzid_property(line: str) -> str:
    return _unescape(line[_value_start(line) :])


def _known_zone(name: str) -> bool:
    """Whether icalendar finds this name without the feed's definition (then it uses its own)."""
    cleaned = name.strip("/")
    candidates = [cleaned, WINDOWS_TO_OLSON.get(cleaned, ""), name]
    if name.startswith("/"):
        parts = cleaned.split("/")
        candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    return any(_iana(candidate) for candidate in candidates if candidate)


def _iana(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _parse(lines: list[str], result: BusyImport) -> icalendar.Calendar:
    """Parse the calendar as icalendar would; if that fails, component by component."""
    try:
        return icalendar.Calendar.from_ical("\r\n".join(lines) + "\r\n")
    except _PARSE_ERRORS as exc:
        first_error = exc
    lines = _clean_lines(lines, result)
    try:
        return icalendar.Calendar.from_ical("\r\n".join(lines) + "\r\n")
    except _PARSE_ERRORS:
        pass
    header, zones, components = _split(lines)
    try:
        calendar = icalendar.Calendar.from_ical("\r\n".join([*header, "END:VCALENDAR"]) + "\r\n")
    except _PARSE_ERRORS as exc:
        raise ValueError(f"The calendar cannot be read: {first_error}") from exc
    for component in _parse_groups(header, zones, components, result):
        calendar.add_component(component)
    return calendar


def _split(lines):
    """Calendar header lines, VTIMEZONE blocks, and the other top-level components."""
    header, zones, components, current, depth = [], [], [], [], 0
    for line in lines:
        upper = line.upper()
        if depth == 0:
            if upper.startswith("BEGIN:") and upper != "BEGIN:VCALENDAR":
                current, depth = [line], 1
            elif upper != "END:VCALENDAR":
                header.append(line)
            continue
        current.append(line)
        if upper.startswith("BEGIN:"):
            depth += 1
        elif upper.startswith("END:"):
            depth -= 1
            if depth == 0:
                (zones if upper == "END:VTIMEZONE" else components).append(current)
    return header, zones, components


def _parse_groups(header, zones, components, result):
    """Parse components in halving groups, so one bad component costs only itself."""
    zone_lines = [line for block in zones for line in block]
    try:
        zone_calendar = icalendar.Calendar.from_ical(
            "\r\n".join([*header, *zone_lines, "END:VCALENDAR"]) + "\r\n"
        )
    except _PARSE_ERRORS:
        result.warn("The time zone definitions could not be read; times use known zone names.")
        zone_lines, zone_calendar = [], None
    pending = [components]
    while pending:
        group = pending.pop()
        text = "\r\n".join([*header, *zone_lines, *(x for c in group for x in c), "END:VCALENDAR"])
        try:
            parsed = icalendar.Calendar.from_ical(text + "\r\n")
        except _PARSE_ERRORS as exc:
            if len(group) == 1:
                uid = next((x[4:] for x in group[0] if x.upper().startswith("UID:")), "?")
                name = group[0][0][6:]
                result.warn(f"{name} {uid[:80]} skipped: {str(exc)[:200]}")
            else:
                middle = len(group) // 2
                pending += [group[middle:], group[:middle]]
            continue
        yield from (c for c in parsed.subcomponents if c.name != "VTIMEZONE")
    if zone_calendar is not None:
        yield from zone_calendar.subcomponents


def _drop_unusable_events(calendar, zone: ZoneInfo, result: BusyImport) -> None:
    """Remove events without a usable start; note the zones that will be guessed."""
    kept = []
    for component in calendar.subcomponents:
        if component.name == "VEVENT":
            start = component.get("DTSTART")
            value = _value_or_none(start)
            if not isinstance(value, date) or not _usable_end(component):
                uid = str(component.get("UID", "?"))[:80]
                result.warn(f"VEVENT {uid} skipped: no valid start or end.")
                continue
            tzid = start.params.get("TZID")
            if tzid is not None and isinstance(value, datetime) and value.tzinfo is None:
                result.warn(f"Unknown time zone {str(tzid)[:60]!r}: read in {zone.key}.")
        kept.append(component)
    calendar.subcomponents[:] = kept


def _value_or_none(prop):
    try:
        return None if prop is None else prop.dt
    except (AttributeError, BrokenCalendarProperty):
        return None


def _usable_end(event) -> bool:
    for name in ("DTEND", "DURATION"):
        if name in event and _value_or_none(event[name]) is None:
            return False
    return True


def _check_budget(query, span_stop, budget: int) -> set[int]:
    """Count the recurrence instances in the window lazily; too many is a limit.

    recurring-ical-events (and dateutil's rrule.between) build every instance of the
    window in a list before anything is returned: a 200-byte FREQ=SECONDLY feed asks for
    ten million. Walking each rule lazily stops at the budget instead. Every instance
    from the rule's start counts, also those before the window: dateutil walks them too.
    Returns the series whose rules cannot be walked (mixed value types, say): those are
    skipped, as dateutil may loop on them instead of failing.
    """
    seen, broken = 0, set()
    for series in query.series:
        recurrence = getattr(series, "recurrence", None)
        rules = getattr(recurrence, "rrules", ())
        try:
            last = convert_to_datetime(span_stop + series._add_to_stop, recurrence.tzinfo)
            for rule in rules:
                for moment in rule:
                    if moment > last:
                        break
                    seen += 1
                    if seen > budget:
                        raise ImportLimitError(
                            f"its repeating events give more than {budget} occurrences "
                            "in the next months"
                        )
        except (TypeError, ValueError, OverflowError, AttributeError):
            if rules:
                broken.add(id(series))
    return broken


def _occurrences(query, span_start, span_stop, broken: set[int], result: BusyImport):
    """(start, end, component) of each occurrence in the window, one series at a time.

    The same occurrences as query.between(), without a copy of the component for each.
    """
    for series in query.series:
        if id(series) in broken:
            result.warn(f"Repeating event {str(series.uid)[:80]} skipped: its dates mix types.")
            continue
        try:
            for occurrence in series.between(span_start, span_stop):
                component = occurrence._adapter._component
                if component.name == "VEVENT":
                    yield occurrence.start, occurrence.end, component
        except query._skip_errors:
            continue


def _busy_span(event, begin, finish, zone: ZoneInfo, block_all_day: bool):
    """The busy span in UTC of an occurrence from begin to finish, or None when free."""
    if not _blocks_time(event):
        return None
    if not isinstance(begin, datetime):
        if not block_all_day:
            return None
        last = _as_date(finish)
        if last <= begin:  # a zero or negative length all-day event still means that day
            last = begin + timedelta(days=1)
        return _local_midnight(begin, zone), _local_midnight(last, zone)
    begin, finish = _aware(begin, zone), _aware(_as_datetime(finish, begin), zone)
    if finish <= begin:
        return None
    return begin.astimezone(UTC), finish.astimezone(UTC)


def busy_span_of_component(event, zone: ZoneInfo, block_all_day: bool = True):
    """The busy span of one expanded component (as recurring-ical-events returns them)."""
    begin = event["DTSTART"].dt
    if "DTEND" in event:
        finish = event["DTEND"].dt
    elif "DURATION" in event:
        finish = begin + event["DURATION"].dt
    else:
        finish = begin + timedelta(days=1) if not isinstance(begin, datetime) else begin
    return _busy_span(event, begin, finish, zone, block_all_day)


def _blocks_time(event) -> bool:
    """STATUS:CANCELLED never blocks; then TRANSP decides; then Outlook's busy status."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if "TRANSP" in event:
        return str(event["TRANSP"]).upper() != "TRANSPARENT"
    if "X-MICROSOFT-CDO-BUSYSTATUS" in event:
        return str(event["X-MICROSOFT-CDO-BUSYSTATUS"]).upper() != "FREE"
    return True


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    # Floating times, and times in a zone nobody knows, are the practitioner's wall clock.
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _as_datetime(value, like: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=like.tzinfo)


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
