"""The development mail backend: each message in its own file, named by its Message-ID.

Django's file backend appends every message to a file per connection; here a message sent
again after a crash (the outbox keeps its Message-ID over every attempt) replaces its own
file instead of making a second one. Written to a temporary name and renamed, so a reader
never sees half a message.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        self.folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            raw = message.message().as_bytes(linesep="\r\n")
            key = message.extra_headers.get("Message-ID") or hashlib.sha256(raw).hexdigest()
            name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".eml"
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.folder / name)
        return len(email_messages)
