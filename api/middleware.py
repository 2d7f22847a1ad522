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


class DatabaseUnavailableMiddleware:
    """A lost database connection (a restart, a failover) is a 503 with Retry-After, not a
    500: the client may simply try again in a moment."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import InterfaceError, OperationalError

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        response = JsonResponse(
            {"code": "unavailable", "detail": "Temporarily unavailable; please try again."},
            status=503,
        )
        response["Retry-After"] = "5"
        return response
