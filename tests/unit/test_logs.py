import json
import logging

import httpx
import pytest

from bridge.http.app import Bridge
from bridge.logs import JsonFormatter, request_id
from bridge.settings import Settings
from tests.fakes import RecordingPublisher


def format_record(message: str, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("bridge.test", logging.WARNING, __file__, 1, message, None, None)
    record.created = 1_763_719_200.25
    for name, value in extra.items():
        setattr(record, name, value)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_one_json_object_with_level_event_and_extra_fields() -> None:
    assert format_record("callback refused", status=422, route="/callbacks/video-upload") == {
        "time": "2025-11-21T10:00:00.250Z",
        "level": "warning",
        "logger": "bridge.test",
        "event": "callback refused",
        "status": 422,
        "route": "/callbacks/video-upload",
    }


def test_the_current_request_id_is_included() -> None:
    token = request_id.set("req-42")
    try:
        assert format_record("request")["request_id"] == "req-42"
    finally:
        request_id.reset(token)
    assert "request_id" not in format_record("request")


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "bridge.test", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info()
        )
    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert json.loads(line)["error"].endswith("RuntimeError: boom")


async def test_the_access_line_is_one_json_object_with_the_request_fields(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    bridge = Bridge(Settings(allow_unauthenticated=True), RecordingPublisher())
    transport = httpx.ASGITransport(app=bridge)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        await client.post(
            "/callbacks/material-upload/some-token",
            content=b"{}",
            headers={"content-type": "application/json", "X-Request-ID": "req-7"},
        )
        await client.get("/healthz")  # probes are logged at debug only

    [line] = [json.loads(text) for text in capfd.readouterr().err.splitlines()]
    assert line.pop("time").endswith("Z")
    assert 0 < line.pop("duration_ms") < 1000
    assert line == {
        "level": "info",
        "logger": "bridge.access",
        "event": "request",
        "request_id": "req-7",
        "method": "POST",
        "route": "/callbacks/material-upload",
        "status": 422,
    }


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    assert "color_message" not in format_record("Started", color_message="\x1b[36mStarted\x1b[0m")
