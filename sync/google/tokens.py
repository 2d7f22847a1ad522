"""The names Google's OAuth tokens were sealed under before sealing had a module of its own
(sync/sealing.py); kept for the callers that still use them."""

from sync.sealing import reseal as reencrypt_token
from sync.sealing import seal as encrypt_token
from sync.sealing import unseal as decrypt_token

__all__ = ["decrypt_token", "encrypt_token", "reencrypt_token"]
