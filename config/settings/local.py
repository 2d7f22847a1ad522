"""Development: the embedded default with debugging on."""

from config.env import env

from .base import *  # noqa: F403

DEBUG = env.bool("DEBUG", default=True)
