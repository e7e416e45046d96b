import asyncio
import json
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from bridge.http.access_log import LineBuffer
from bridge.http.app import Bridge
from bridge.logs import JsonFormatter, request_id
from bridge.settings import Settings
from tests.fakes import RecordingPublisher, client_of


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


@pytest.fixture
def bridge(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Bridge:
    """A bridge that writes its access lines (INFO) to stderr, where capfd reads them: made
    once capfd captures, as it writes to the stderr it finds when made."""
    caplog.set_level(logging.INFO)
    return Bridge(Settings(allow_unauthenticated=True), RecordingPublisher())


async def test_the_access_line_is_one_json_object_with_the_request_fields(
    bridge: Bridge, capfd: pytest.CaptureFixture[str]
) -> None:
    async with client_of(bridge) as client:
        await client.post(
            "/callbacks/material-upload/some-token",
            content=b"{}",
            headers={"content-type": "application/json", "X-Request-ID": "req-7"},
        )
        await client.get("/healthz")  # probes are logged at debug only
    bridge.app.flush()  # as the app does at shutdown; otherwise within FLUSH_AFTER

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


async def test_access_lines_are_written_together_within_the_flush_delay() -> None:
    written: list[bytes] = []
    arrived = asyncio.Event()

    def write(chunk: bytes) -> None:
        written.append(chunk)
        arrived.set()

    lines = LineBuffer(write, delay=0.05)
    lines.add(b'{"n":1}\n')
    lines.add(b'{"n":2}\n')
    assert written == []  # not one write per line

    await asyncio.wait_for(arrived.wait(), timeout=5)

    assert written == [b'{"n":1}\n{"n":2}\n']
    assert lines.timer is None


async def test_access_lines_are_written_whole_and_at_most_pipe_buf_at_a_time() -> None:
    """Lines of workers sharing stderr do not interleave: no write is longer than PIPE_BUF."""
    written: list[bytes] = []
    lines = LineBuffer(written.append, delay=60)
    line = b"x" * 299 + b"\n"

    for _ in range(30):
        lines.add(line)
    lines.flush()

    assert [len(chunk) for chunk in written] == [13 * 300, 13 * 300, 4 * 300]
    assert all(chunk.endswith(b"\n") for chunk in written)
    assert b"".join(written) == line * 30
    assert lines.timer is None


async def test_the_lines_left_are_written_when_the_app_shuts_down(
    bridge: Bridge, capfd: pytest.CaptureFixture[str]
) -> None:
    async with client_of(bridge) as client:
        await client.post("/callbacks/material-upload", content=b"{}")
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await bridge({"type": "lifespan"}, receive, send)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    [line] = [json.loads(text) for text in capfd.readouterr().err.splitlines()]
    assert (line["route"], line["status"]) == ("/callbacks/material-upload", 415)
