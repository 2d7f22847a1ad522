from sync.models import CalendarConnection
from web.tenancy import scoped


def connection_alerts(request):
    """The admin shows a banner while one of the practitioner's own connections needs them."""
    if not request.path.startswith("/admin/") or not getattr(request.user, "is_staff", False):
        return {}
    broken = scoped(
        CalendarConnection.objects.exclude(status=CalendarConnection.Status.OK),
        request.user,
        "practitioner",
    )
    return {
        "connection_alerts": [
            {
                "pk": c.pk,
                "name": c.name or c.url or c.kind,
                "problem": "opnieuw verbinden nodig"
                if c.status == CalendarConnection.Status.RECONNECT_NEEDED
                else (c.last_error or "fout bij synchroniseren"),
            }
            for c in broken
        ]
    }
