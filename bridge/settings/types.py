"""The value types of the settings, and the metadata every setting carries."""

from __future__ import annotations

from typing import Annotated

import msgspec

PREFIX = "BRIDGE_"

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
# Long enough that guessing one over the network is hopeless.
Token = Annotated[str, msgspec.Meta(min_length=16)]
TopicName = Annotated[str, msgspec.Meta(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]
# "<AccessKey>:<SecretKey>", as the platform's console shows a key pair.
VendorKey = Annotated[str, msgspec.Meta(pattern=r"^[^:\s,]+:[^\s,]+$")]
# The callback URL's scheme, host and any path prefix in front of the bridge; no query.
PublicUrl = Annotated[str, msgspec.Meta(pattern=r"^(https?://[^/?#\s]+(/[^?#\s]*)?)?$")]


def doc(text: str, *, chart: str = "", chart_default: object = None) -> msgspec.Meta:
    """A setting's description; `chart` adds what the Helm chart does about it."""
    extra: dict[str, object] = {}
    if chart:
        extra["chart"] = chart
    if chart_default is not None:
        extra["chart_default"] = chart_default
    return msgspec.Meta(description=text, extra=extra)


def credential(text: str) -> msgspec.Meta:
    """A setting that the chart keeps in a Secret, though its value may be shown."""
    return msgspec.Meta(description=text, extra={"credential": True})


def secret(text: str) -> msgspec.Meta:
    """A credential whose value is never shown in an error message or a log line."""
    return msgspec.Meta(description=text, extra={"credential": True, "secret": True})
