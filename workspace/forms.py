"""Forms of the workspace: plain Django forms, Dutch labels through gettext."""

import itertools
import math

from django import forms
from django.core.exceptions import ValidationError
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scheduler.bounds import (
    MAX_BUFFER_MINUTES,
    MAX_DAYS_AHEAD,
    MAX_NOTICE_MINUTES,
    MAX_SERIES_OFFSET_DAYS,
    MAX_SERIES_SESSIONS,
    MAX_SERIES_WINDOW_DAYS,
    MAX_SESSION_MINUTES,
)
from scheduler.validators import (
    no_control_characters,
    no_control_characters_but_newlines,
    no_markup,
    phone_characters,
)

RANGES_PER_DAY = 3
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# The years a date of the workspace may fall in, as the API's dates (api/fields.py) and the
# pages' date parameters (web/params.py): 9999-12-31 has no next day, and a
# range walked day by day from it overflowed (a 500).
FIRST_YEAR, LAST_YEAR = 2000, 2999


class BoundedDateField(forms.DateField):
    """A date in FIRST_YEAR..LAST_YEAR; any other is a form error, never an overflow."""

    widget = DATE

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.update(min=f"{FIRST_YEAR}-01-01", max=f"{LAST_YEAR}-12-31")

    def validate(self, value):
        super().validate(value)
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValidationError(
                gettext("Choose a date between %(first)d and %(last)d.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR},
                code="year",
            )


def _overlap_check(ranges, where) -> None:
    for start, end in ranges:
        if start >= end:
            raise ValidationError(
                gettext("%(where)s: %(start)s–%(end)s ends before it starts.")  # noqa: RUF001
                % {"where": where, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
            )
    for (_s1, end_a), (start_b, _e2) in itertools.pairwise(sorted(ranges)):
        if start_b < end_a:
            raise ValidationError(
                gettext("%(where)s: the times overlap (%(start)s starts before %(end)s).")
                % {"where": where, "start": f"{start_b:%H:%M}", "end": f"{end_a:%H:%M}"}
            )


class HoursForm(forms.Form):
    """Per weekday up to RANGES_PER_DAY ranges (more once they are filled)."""

    def __init__(self, *args, rules=(), **kwargs):
        super().__init__(*args, **kwargs)
        by_day = {d: [] for d in range(7)}
        for rule in rules:
            by_day[rule.weekday].append((rule.start, rule.end))
        self.days = []
        for weekday in range(7):
            rows = []
            count = max(RANGES_PER_DAY, len(by_day[weekday]) + 1)
            for i in range(count):
                existing = by_day[weekday][i] if i < len(by_day[weekday]) else (None, None)
                names = (f"d{weekday}-{i}-start", f"d{weekday}-{i}-end")
                for name, value, label in zip(
                    names, existing, (_("from"), _("until")), strict=True
                ):
                    self.fields[name] = forms.TimeField(
                        label=label, required=False, initial=value, widget=TIME
                    )
                rows.append(names)
            self.days.append((weekday, WEEKDAYS[weekday], rows))

    def day_rows(self):
        """(weekday, name, [(start field, end field), ...]) for the template."""
        return [
            (weekday, name, [(self[a], self[b]) for a, b in rows])
            for weekday, name, rows in self.days
        ]

    def clean(self):
        data = super().clean()
        rules = []
        for weekday, name, rows in self.days:
            ranges = []
            for a, b in rows:
                start, end = data.get(a), data.get(b)
                if start is None and end is None:
                    continue
                if start is None or end is None:
                    self.add_error(a if start is None else b, gettext("Fill in both times."))
                    continue
                ranges.append((start, end))
            try:
                _overlap_check(ranges, str(name).capitalize())
            except ValidationError as exc:
                self.add_error(rows[0][0], exc)
            rules.extend((weekday, start, end) for start, end in ranges)
        data["rules"] = rules
        return data


class DaysOffForm(forms.Form):
    CLOSED, OTHER = "closed", "other"
    first = BoundedDateField(label=_("First day"))
    last = BoundedDateField(label=_("Last day (empty for one day)"), required=False)
    kind = forms.ChoiceField(
        label=_("That day"),
        choices=[(CLOSED, _("Closed")), (OTHER, _("Other hours"))],
        initial=CLOSED,
        widget=forms.RadioSelect,
    )
    start_1 = forms.TimeField(label=_("from"), required=False, widget=TIME)
    end_1 = forms.TimeField(label=_("until"), required=False, widget=TIME)
    start_2 = forms.TimeField(label=_("from"), required=False, widget=TIME)
    end_2 = forms.TimeField(label=_("until"), required=False, widget=TIME)

    def clean(self):
        data = super().clean()
        ranges = []
        if data.get("kind") == self.OTHER:
            for n in (1, 2):
                start, end = data.get(f"start_{n}"), data.get(f"end_{n}")
                if start and end:
                    ranges.append((start, end))
                elif start or end:
                    self.add_error(f"start_{n}", gettext("Fill in both times."))
            if not ranges and not self.errors:
                raise ValidationError(gettext("Give the other hours, or choose closed."))
            _overlap_check(ranges, gettext("Other hours"))
        data["ranges"] = ranges
        if data.get("first") and not data.get("last"):
            data["last"] = data["first"]
        return data


class AppointmentTypeForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=200, validators=[no_control_characters, no_markup]
    )
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=5, max_value=MAX_SESSION_MINUTES
    )
    buffer_before_minutes = forms.IntegerField(
        label=_("Free time before (minutes)"), min_value=0, max_value=MAX_BUFFER_MINUTES, initial=0
    )
    buffer_after_minutes = forms.IntegerField(
        label=_("Free time after (minutes)"), min_value=0, max_value=MAX_BUFFER_MINUTES, initial=0
    )
    notice_hours = forms.IntegerField(
        label=_("Minimum notice (hours)"),
        min_value=0,
        max_value=MAX_NOTICE_MINUTES // 60,
        initial=0,
    )
    horizon_weeks = forms.IntegerField(
        label=_("Bookable ahead (weeks)"), min_value=1, max_value=MAX_DAYS_AHEAD // 7, initial=13
    )
    slot_step_minutes = forms.IntegerField(
        label=_("A start every … minutes (empty: the duration)"),
        min_value=5,
        max_value=24 * 60,
        required=False,
    )
    active = forms.BooleanField(label=_("Clients can book it"), required=False, initial=True)

    @staticmethod
    def initial_of(appointment_type) -> dict:
        return {
            "name": appointment_type.name,
            "duration_minutes": appointment_type.duration_minutes,
            "buffer_before_minutes": appointment_type.buffer_before_minutes,
            "buffer_after_minutes": appointment_type.buffer_after_minutes,
            "notice_hours": math.ceil(appointment_type.min_notice_minutes / 60),
            "horizon_weeks": max(1, round(appointment_type.max_days_ahead / 7)),
            "slot_step_minutes": appointment_type.slot_step_minutes,
            "active": appointment_type.active,
        }

    def type_fields(self) -> dict:
        """The model's fields; notice and horizon only when changed, so that a value that is
        no whole number of hours or weeks (set through the API) survives an edit."""
        data = self.cleaned_data
        fields = {
            name: data[name]
            for name in (
                "name",
                "duration_minutes",
                "buffer_before_minutes",
                "buffer_after_minutes",
                "slot_step_minutes",
                "active",
            )
        }
        if "notice_hours" in self.changed_data or not self.initial:
            fields["min_notice_minutes"] = data["notice_hours"] * 60
        if "horizon_weeks" in self.changed_data or not self.initial:
            fields["max_days_ahead"] = data["horizon_weeks"] * 7
        return fields


class SeriesItemForm(forms.Form):
    """One session of a series: which day (as people count: day 1 is the first), how long,
    and for a follow-up how many days earlier or later it may fall (its window)."""

    day = forms.IntegerField(label=_("Day"), min_value=1, max_value=MAX_SERIES_OFFSET_DAYS + 1)
    duration_minutes = forms.IntegerField(
        label=_("Minutes"), min_value=5, max_value=MAX_SESSION_MINUTES
    )
    window_before_days = forms.IntegerField(
        label=_("Days earlier"), min_value=0, max_value=MAX_SERIES_WINDOW_DAYS, required=False
    )
    window_after_days = forms.IntegerField(
        label=_("Days later"), min_value=0, max_value=MAX_SERIES_WINDOW_DAYS, required=False
    )

    def item(self) -> dict:
        item = {
            "offset_days": self.cleaned_data["day"] - 1,
            "duration_minutes": self.cleaned_data["duration_minutes"],
        }
        for name in ("window_before_days", "window_after_days"):
            if self.cleaned_data.get(name):  # 0 or empty: no window, as the API writes it
                item[name] = self.cleaned_data[name]
        return item

    @staticmethod
    def initial_of(item: dict) -> dict:
        return {
            "day": item["offset_days"] + 1,
            "duration_minutes": item["duration_minutes"],
            "window_before_days": item.get("window_before_days", 0),
            "window_after_days": item.get("window_after_days", 0),
        }


class _BaseSeriesFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        items = [f.item() for f in self.forms if f.has_changed() and f.cleaned_data]
        if items and items[0]["offset_days"] != 0:
            raise ValidationError(gettext("The first session of a series is on day 1."))
        offsets = [i["offset_days"] for i in items]
        if offsets != sorted(set(offsets)):
            raise ValidationError(gettext("Each session of a series is on a later day."))
        if len(items) == 1:
            raise ValidationError(gettext("A series has at least two sessions."))

    def series(self) -> list[dict] | None:
        items = [f.item() for f in self.forms if f.has_changed() and f.cleaned_data]
        return items or None


SeriesFormSet = forms.formset_factory(
    SeriesItemForm,
    formset=_BaseSeriesFormSet,
    extra=2,
    max_num=MAX_SERIES_SESSIONS,
    validate_max=True,
)


class ClientForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=200, validators=[no_control_characters, no_markup]
    )
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        validators=[no_control_characters, phone_characters],
    )
    notes = forms.CharField(
        label=_("Notes"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_control_characters_but_newlines],
    )
    language = forms.ChoiceField(
        label=_("Language of the e-mails"),
        choices=[("nl", "Nederlands"), ("en", "English")],
        initial="nl",
    )


class CancelForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the client (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_control_characters_but_newlines],
    )


class IcsForm(forms.Form):
    url = forms.CharField(
        label=_("Address of the calendar (https:// or webcal://)"),
        max_length=2000,
        validators=[no_control_characters],
    )
    name = forms.CharField(
        label=_("Name (optional)"),
        max_length=200,
        required=False,
        validators=[no_control_characters, no_markup],
    )


class CalDAVForm(forms.Form):
    """A CalDAV account: the calendars are found after it is saved, in a task."""

    url = forms.CharField(
        label=_("Server address (https://…)"),
        max_length=2000,
        validators=[no_control_characters],
    )
    username = forms.CharField(
        label=_("User name (often your e-mail address)"),
        max_length=320,
        validators=[no_control_characters],
    )
    password = forms.CharField(
        label=_("App password"),
        max_length=1000,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        validators=[no_control_characters],
    )
    name = forms.CharField(
        label=_("Name for this calendar (optional)"),
        max_length=200,
        required=False,
        validators=[no_control_characters, no_markup],
    )


class CalendarChoiceForm(forms.Form):
    """Which of the account's calendars receives bookings and which block time; a new
    password when the connector has one. Any address may come back as the calendar for
    bookings: the connector refuses one the account does not have, in its own words."""

    def __init__(self, *args, calendars=(), with_password=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["push_calendar_id"] = forms.CharField(
            label=_("Bookings go into"),
            max_length=1024,
            widget=forms.Select(choices=list(calendars)),
        )
        self.fields["busy_calendar_ids"] = forms.MultipleChoiceField(
            label=_("Busy time comes from"),
            required=False,
            choices=list(calendars),
            widget=forms.CheckboxSelectMultiple,
        )
        if with_password:
            self.fields["password"] = forms.CharField(
                label=_("New app password (only to change it)"),
                max_length=1000,
                required=False,
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                validators=[no_control_characters],
            )


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label=_("Your answer"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[no_control_characters_but_newlines],
    )
