import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "js"


@pytest.fixture
def ical_js():
    """Parse iCalendar text with ical.js (node) and return what it read."""
    if shutil.which("node") is None:
        pytest.fail("node is needed to check feeds with ical.js (make test installs it)")

    def parse(text: str) -> dict:
        done = subprocess.run(
            ["node", str(JS / "parse_ics.mjs")],
            input=text.encode(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return json.loads(done.stdout)

    return parse
