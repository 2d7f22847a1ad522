"""Serializers shared by several endpoints."""

from rest_framework import serializers

from api.fields import AwareDateTimeField

HH_MM = "%H:%M"


class ErrorSerializer(serializers.Serializer):
    """The body of every coded error (409, 413, 422): a stable code and a readable detail."""

    code = serializers.CharField()
    detail = serializers.CharField()


class IntervalSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()


class TimeRangeSerializer(serializers.Serializer):
    start = serializers.TimeField(format=HH_MM, input_formats=[HH_MM])
    end = serializers.TimeField(format=HH_MM, input_formats=[HH_MM])

    def validate(self, attrs):
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": "Must be after start."})
        return attrs
