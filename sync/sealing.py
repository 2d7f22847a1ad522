"""Secrets at rest, sealed with MultiFernet so that keys can be rotated.

What is sealed: Google's OAuth tokens, CalDAV passwords and the messages waiting in the
outbox (e-mails hold personal data and manage links; a revocation holds a token).
TOKEN_ENCRYPTION_KEYS lists Fernet keys, newest first: the first seals, all open.
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`
makes one. Without it a key is derived from SECRET_KEY (fine for development only).
Rotation (`reseal`, run over every stored secret by sync/secrets.py) is in the README.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _keys() -> MultiFernet:
    keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    if not keys:
        # The derivation's label predates the other secrets: changing it would make every
        # development database's sealed values unreadable.
        derived = hashlib.sha256(b"google-tokens:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def seal(value: str) -> str:
    """The value sealed under the newest key; "" stays ""."""
    return _keys().encrypt(value.encode()).decode() if value else ""


def unseal(value: str) -> str:
    """The sealed value opened; "" when it is empty or no configured key opens it."""
    if not value:
        return ""
    try:
        return _keys().decrypt(value.encode()).decode()
    except InvalidToken:
        return ""


def reseal(value: str) -> str:
    """Sealed again under the newest key (after one was put first in TOKEN_ENCRYPTION_KEYS)."""
    return _keys().rotate(value.encode()).decode() if value else ""
