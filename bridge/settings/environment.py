"""Settings, read once from `BRIDGE_*` environment variables.

Each field is the variable's name without the prefix, lower-cased
(`BRIDGE_KAFKA_BOOTSTRAP_SERVERS` -> `kafka_bootstrap_servers`). Values are
decoded by msgspec in lax mode, so `"8080"` becomes `8080` and `"true"`
becomes `True`; tuple fields are comma-separated lists.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping

import msgspec

from bridge.errors import located
from bridge.settings.catalog import FIELDS, LIST_FIELDS, SECRET_FIELDS
from bridge.settings.model import Settings
from bridge.settings.types import PREFIX

# Variables under the prefix that belong to tooling, not to the service.
_FOREIGN_PREFIXES = ("BRIDGE_TEST_", "BRIDGE_BENCH_")


class SettingsError(ValueError):
    """A `BRIDGE_*` variable whose value cannot be used; the message is one line."""


def _own(environ: Mapping[str, str] | None) -> Iterator[tuple[str, str, str]]:
    """The service's variables of `environ` (default: the process's): each one's name,
    the setting it names, and its value."""
    for name, value in (os.environ if environ is None else environ).items():
        if name.startswith(PREFIX) and not name.startswith(_FOREIGN_PREFIXES):
            yield name, name[len(PREFIX) :].lower(), value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Decode the `BRIDGE_*` variables of `environ` (default: the process's)."""
    raw = {key: value for _, key, value in _own(environ)}
    fields: dict[str, object] = {}
    for key, value in raw.items():
        if key not in FIELDS:
            continue  # reported by unknown_variables(); Kubernetes adds some of its own
        fields[key] = _split(value) if key in LIST_FIELDS else value
    try:
        return msgspec.convert(fields, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(_describe(error, raw)) from None


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per `BRIDGE_*` variable that no setting reads, with a likely intended name."""
    lines = []
    for name, key, _ in sorted(_own(environ)):
        if key in FIELDS:
            continue
        close = difflib.get_close_matches(key, FIELDS, n=1)
        hint = f" (did you mean {PREFIX}{close[0].upper()}?)" if close else ""
        lines.append(f"{name} is not a setting of the bridge and is ignored{hint}")
    return lines


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _describe(error: msgspec.ValidationError, raw: Mapping[str, str]) -> str:
    reason, at = located(error)
    key = (at or "$").removeprefix("$.").split("[", 1)[0].split(".", 1)[0]
    if key not in raw:
        return f"invalid settings: {error}"
    shown = "<hidden>" if key in SECRET_FIELDS else repr(raw[key])
    return f"{PREFIX}{key.upper()}={shown} is invalid: {reason}"
