"""What is known about each setting, from its field: description, values, list, secret."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

import msgspec

from bridge.settings.model import Settings


def _meta(field: msgspec.structs.FieldInfo) -> msgspec.Meta:
    """The field's `doc`, `credential` or `secret`: the last Meta with a description."""
    for meta in reversed(getattr(field.type, "__metadata__", ())):
        if isinstance(meta, msgspec.Meta) and meta.description:
            return meta
    raise TypeError(f"setting {field.name} has no description")


def _bare(hint: Any) -> Any:
    """The type under any `Annotated` layers: `tuple[Token, ...]`, `Literal[...]`, `int`."""
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return hint


FIELDS = {field.name: field for field in msgspec.structs.fields(Settings)}
ABOUT = {name: _meta(field) for name, field in FIELDS.items()}
# Values never echoed in an error message or a log line.
SECRET_FIELDS = frozenset(name for name, meta in ABOUT.items() if (meta.extra or {}).get("secret"))
# Credentials: kept in a Secret by the chart, not in its ConfigMap.
CREDENTIAL_FIELDS = frozenset(
    name for name, meta in ABOUT.items() if (meta.extra or {}).get("credential")
)
# Comma-separated in the environment.
LIST_FIELDS = frozenset(
    name for name, field in FIELDS.items() if typing.get_origin(_bare(field.type)) is tuple
)
# The values a setting may take, when there is a fixed set.
CHOICES = {
    name: typing.get_args(_bare(field.type))
    for name, field in FIELDS.items()
    if typing.get_origin(_bare(field.type)) is Literal
}
