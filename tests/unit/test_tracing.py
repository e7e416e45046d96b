"""When traces are on, and what a bad `OTEL_*` setting says; the traces themselves: *_e2e."""

from __future__ import annotations

import sys

import pytest

from bridge import tracing
from bridge.http.app import Bridge
from bridge.http.auth import Authenticator
from bridge.kafka.publisher import KafkaPublisher
from bridge.settings import load_settings
from bridge.tools.cli import main

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
        # Without an endpoint, the SDK's default exporter would send to localhost: stay off.
        ({"OTEL_SERVICE_NAME": "bridge"}, False),
    ],
)
def test_when_traces_are_on(environ: dict[str, str], expected: bool) -> None:
    assert tracing.requested(environ) is expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {**ENDPOINT, "OTEL_TRACES_EXPORTER": "console"},
            "OTEL_TRACES_EXPORTER=console is not supported: "
            "the bridge exports traces with otlp (or none)",
        ),
        (
            {**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: "
            "the bridge exports OTLP as http/protobuf",
        ),
        (
            {**ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json is not supported: "
            "the bridge exports OTLP as http/protobuf",
        ),
    ],
)
def test_what_cannot_be_honoured_is_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(tracing.TracingError) as caught:
        tracing.requested(environ)

    assert str(caught.value) == message


def test_without_the_extra_an_endpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the otel extra were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "bridge.otel", raising=False)

    with pytest.raises(tracing.TracingError) as caught:
        tracing.requested(ENDPOINT)

    assert str(caught.value) == (
        "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed (opentelemetry): "
        "install video-callback-bridge[otel], or unset OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def test_serve_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIDGE_ALLOW_UNAUTHENTICATED", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")

    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "bridge: OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: "
        "the bridge exports OTLP as http/protobuf\n"
    )


def test_off_nothing_of_tracing_is_on_the_request_path() -> None:
    bridge = Bridge(load_settings({"BRIDGE_ALLOW_UNAUTHENTICATED": "true"}))

    assert bridge.tracing is None
    assert type(bridge.publisher) is KafkaPublisher
    assert type(bridge.app.app) is Authenticator
    assert tracing.from_environment({}) is None
