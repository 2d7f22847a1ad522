from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.throttling import PublicReadThrottle
from scheduler.models import Practitioner


class PractitionerOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    timezone = serializers.CharField()


class PractitionerDetailApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [PublicReadThrottle]

    @extend_schema(responses=PractitionerOutputSerializer, tags=["public"])
    def get(self, request, slug):
        practitioner = get_object_or_404(Practitioner, slug=slug)
        return Response(PractitionerOutputSerializer(practitioner).data)
