"""Whether to trace, read from the standard `OTEL_*` variables; the tracing itself is `bridge.otel`.

Traces are on when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_EXPORTER_OTLP_ENDPOINT`), unless `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none`. They need the `otel` extra; asked for without it, or with
an exporter or protocol the bridge does not ship, start-up stops with one line.

Off, nothing here or in `bridge.otel` is on the request path: the application is put
together without it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.otel import Tracing

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
EXTRA = "video-callback-bridge[otel]"


class TracingError(ValueError):
    """Traces asked for in a way the bridge cannot honour; the message is one line."""


def requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the `OTEL_*` variables ask for traces; `TracingError` if they cannot be had."""
    env = os.environ if environ is None else environ

    def value(name: str) -> str:
        return env.get(name, "").strip().lower()

    if value("OTEL_SDK_DISABLED") == "true" or value("OTEL_TRACES_EXPORTER") == "none":
        return False
    endpoint = next((name for name in ENDPOINTS if value(name)), None)
    if endpoint is None:
        return False
    if value("OTEL_TRACES_EXPORTER") not in ("", "otlp"):
        raise TracingError(
            f"OTEL_TRACES_EXPORTER={env['OTEL_TRACES_EXPORTER']} is not supported: "
            "the bridge exports traces with otlp (or none)"
        )
    protocol = next((name for name in PROTOCOLS if value(name)), None)
    if protocol is not None and value(protocol) != "http/protobuf":
        raise TracingError(
            f"{protocol}={env[protocol]} is not supported: the bridge exports OTLP as http/protobuf"
        )
    try:
        import bridge.otel  # noqa: F401
    except ImportError as error:
        raise TracingError(
            f"{endpoint} is set but OpenTelemetry is not installed ({error.name}): "
            f"install {EXTRA}, or unset {endpoint}"
        ) from None
    return True


def from_environment(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The process's tracing when the `OTEL_*` variables ask for it, else None."""
    if not requested(environ):
        return None
    from bridge.otel import Tracing

    return Tracing.start()
