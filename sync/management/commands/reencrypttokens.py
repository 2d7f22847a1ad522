from django.core.management.base import BaseCommand

from sync.secrets import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored calendar token and waiting message under the newest key "
        "of TOKEN_ENCRYPTION_KEYS; afterwards the older keys can be removed."
    )

    def handle(self, *args, **options):
        counts = secrets_reencrypt()
        self.stdout.write(
            f"re-encrypted {counts['connections']} connection(s) and "
            f"{counts['outbox']} waiting outbox item(s) under the newest key"
        )
