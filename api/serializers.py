"""Serializers shared by several endpoints."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rest_framework import serializers

from api.fields import AwareDateTimeField, HourMinuteField


class ErrorSerializer(serializers.Serializer):
    """The body of every coded error (409, 413, 422): a stable code and a readable detail."""

    code = serializers.CharField()
    detail = serializers.CharField()


class IntervalSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()


class TimeRangeSerializer(serializers.Serializer):
    start = HourMinuteField()
    end = HourMinuteField()

    def validate(self, attrs):
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": "Must be after start."})
        return attrs


def local_days(zone: ZoneInfo, first: date, last: date) -> tuple[datetime, datetime]:
    """The instants [first 00:00, the day after last 00:00) of inclusive local dates."""
    return (
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone),
    )
