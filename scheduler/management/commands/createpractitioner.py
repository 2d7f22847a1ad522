from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scheduler.practice import practitioner_create
from scheduler.tokens import token_issue


class Command(BaseCommand):
    help = "Create a practitioner with a login; prints the API token on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", required=True, help='Full name, e.g. "Anna de Vries"')
        parser.add_argument("--timezone", required=True, help="IANA zone, e.g. Europe/Amsterdam")
        parser.add_argument("--slug", help="Public name in URLs (default: from --name)")
        parser.add_argument("--email", default="")

    def handle(self, *args, **options):
        try:
            practitioner = practitioner_create(
                username=options["username"],
                password=options["password"],
                name=options["name"],
                timezone=options["timezone"],
                slug=options["slug"],
                email=options["email"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(_messages(exc))) from exc
        self.stdout.write(
            f"Created practitioner {practitioner.name!r} (slug {practitioner.slug}, "
            f"zone {practitioner.timezone})."
        )
        self.stdout.write(token_issue(user=practitioner.user))


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs]
    return list(exc.messages)
