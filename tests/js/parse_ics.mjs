// Reads iCalendar text on stdin with ical.js and prints its events as JSON:
// [{uid, start, end, status, sequence, summary, description}] with UTC ISO instants.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");
const root = new ICAL.Component(ICAL.parse(text));
const calendars = root.name === "vcalendar" ? [root] : root.getAllSubcomponents("vcalendar");
const out = { method: null, calendar: {}, events: [] };
for (const cal of calendars) {
  out.method = cal.getFirstPropertyValue("method");
  for (const name of ["x-wr-calname", "refresh-interval", "x-published-ttl"]) {
    const value = cal.getFirstPropertyValue(name);
    out.calendar[name] = value === null ? null : String(value);
  }
  for (const vevent of cal.getAllSubcomponents("vevent")) {
    const event = new ICAL.Event(vevent);
    out.events.push({
      uid: event.uid,
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
      status: vevent.getFirstPropertyValue("status"),
      sequence: vevent.getFirstPropertyValue("sequence"),
      summary: event.summary,
      description: event.description,
      properties: vevent.getAllProperties().map((p) => p.name),
    });
  }
}
process.stdout.write(JSON.stringify(out));
