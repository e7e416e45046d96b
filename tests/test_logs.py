import json
import logging

from bridge.logs import JsonFormatter, request_id


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
