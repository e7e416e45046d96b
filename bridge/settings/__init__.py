"""The bridge's settings: one struct (`model`), read from the environment (`environment`)."""

from bridge.settings.catalog import ABOUT, FIELDS, SECRET_FIELDS
from bridge.settings.environment import SettingsError, load_settings, unknown_variables
from bridge.settings.model import Settings
from bridge.settings.types import PREFIX

__all__ = [
    "ABOUT",
    "FIELDS",
    "PREFIX",
    "SECRET_FIELDS",
    "Settings",
    "SettingsError",
    "load_settings",
    "unknown_variables",
]
