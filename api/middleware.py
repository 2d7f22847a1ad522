from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    """Answer 413 before reading a body whose declared size is over the limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return JsonResponse(
                {"code": "request_too_large", "detail": "The request body is too large."},
                status=413,
            )
        return self.get_response(request)
