"""OAuth tokens at rest: encrypted with MultiFernet, so keys can be rotated.

TOKEN_ENCRYPTION_KEYS lists Fernet keys, newest first: the first encrypts, all decrypt.
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`
makes one. Without it a key is derived from SECRET_KEY (fine for development only).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _keys() -> MultiFernet:
    keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    if not keys:
        derived = hashlib.sha256(b"google-tokens:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt_token(value: str) -> str:
    return _keys().encrypt(value.encode()).decode() if value else ""


def decrypt_token(value: str) -> str:
    if not value:
        return ""
    try:
        return _keys().decrypt(value.encode()).decode()
    except InvalidToken:
        return ""


def reencrypt_token(value: str) -> str:
    """Re-encrypt under the newest key (after adding one to TOKEN_ENCRYPTION_KEYS)."""
    return _keys().rotate(value.encode()).decode() if value else ""
