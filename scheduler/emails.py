"""One normal form for client e-mail addresses: what the caps compare and what is stored.

Two spellings of one mailbox must count as one address, or a cap per address is beaten by
writing it differently: cap@example.org in full-width letters (U+FF45...), with a soft
hyphen (U+00AD) in "example", or as cap@EXAMPLE.org all reach cap@example.org, because
IDNA (which Django applies to the domain when it sends) maps them there. So the domain is
put through the same IDNA conversion Django sends with, and stored in its Unicode form: the
mail goes exactly where the stored address says, and an internationalised domain still
reads as people write it (jan@bücher.de, not xn--bcher-kva.de). The local part keeps its
case (the caps compare it case-insensitively, as before).
"""

import unicodedata

from django.utils.encoding import punycode


def email_normalise(address: str) -> str:
    """`address` in its normal form (idempotent); unchanged apart from NFKC and surrounding
    spaces when its domain is no valid IDNA name (the e-mail validators refuse those)."""
    text = unicodedata.normalize("NFKC", address).strip()
    local, at, domain = text.rpartition("@")
    if not at or not domain:
        return text
    try:
        # punycode() is what django.core.mail does to the domain when it sends.
        domain = punycode(domain).encode("ascii").decode("idna")
    except UnicodeError:
        return text
    return f"{local}@{domain.lower()}"
