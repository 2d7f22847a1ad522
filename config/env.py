"""The one environment reader for all settings."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is opt-in so that a fresh checkout runs with nothing set.
if env.bool("READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))
