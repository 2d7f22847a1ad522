"""Serializers shared by several endpoints."""

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
