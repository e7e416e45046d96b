"""The pure parts of reconciliation, and the command's one-line refusals."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bridge.contract import decode_video_record
from bridge.tools import cli
from bridge.tools.reconcile import ORIGIN_HEADER
from bridge.tools.windows import Window, duration, instant, lookback_window
from tests.samples import VIDEO_SAMPLE, item_slices


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2", "invalid duration '2': expected for example 90s, 15m, 2h or 1h30m"),
        ("2x", "invalid duration '2x': expected for example 90s, 15m, 2h or 1h30m"),
        ("", "invalid duration '': expected for example 90s, 15m, 2h or 1h30m"),
        ("0m", "invalid duration '0m': must be longer than 0 s"),
    ],
)
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        duration(text)

    assert str(caught.value) == message


def test_times_are_rfc3339_with_an_offset() -> None:
    assert instant("2026-12-01T10:00:00Z") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError) as caught:
        instant("2026-12-01 10:00:00")

    assert str(caught.value) == (
        "invalid time '2026-12-01 10:00:00': expected RFC 3339 such as 2026-12-01T10:00:00Z"
    )


def test_a_window_must_end_after_it_starts() -> None:
    moment = datetime(2026, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError) as caught:
        Window(moment, moment)

    assert str(caught.value) == (
        "the window ends (2026-12-01T10:00:00+00:00) before it starts (2026-12-01T10:00:00+00:00)"
    )


def test_a_lookback_window_ends_now() -> None:
    now = datetime(2026, 12, 1, 10, tzinfo=UTC)

    assert lookback_window(timedelta(hours=2), now) == Window(now - timedelta(hours=2), now)


def test_the_origin_is_a_cloudevents_extension_the_typed_decoder_reads() -> None:
    name, value = ORIGIN_HEADER
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"0" * 32),
        ("ce_source", b"/cdnetworks/cloud-vod"),
        ("ce_type", b"com.cdnetworks.cloudvod.video.uploaded"),
        ("ce_time", b"2026-12-01T10:00:00.000Z"),
        ("ce_subject", b"9B0F7BA8BCB9D056D4C24ADDBF821D10"),
        (name, value),
    ]

    decoded = decode_video_record(item_slices(VIDEO_SAMPLE, "videoListInfo")[0], headers)

    assert name.removeprefix("ce_").isalnum() and name.removeprefix("ce_").islower()
    assert decoded.event.origin == "reconciliation"


KEYS = {"BRIDGE_VOD_ACCESS_KEY": "ak", "BRIDGE_VOD_SECRET_KEY": "sk"}


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The command configures the root logger onto a stream pytest closes: put it back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("environ", "args", "code", "line"),
    [
        (
            {},
            ["--lookback", "2h"],
            2,
            "bridge: BRIDGE_VOD_ACCESS_KEY and BRIDGE_VOD_SECRET_KEY must be set to call the "
            "video API",
        ),
        (
            {**KEYS, "BRIDGE_VOD_API_TIMEZONE": "Beijing"},
            ["--lookback", "2h"],
            2,
            "bridge: BRIDGE_VOD_API_TIMEZONE='Beijing' is invalid: expected an IANA zone name "
            "or +HH:MM",
        ),
        (
            {"BRIDGE_VOD_SECRET_KEY": "x"},
            ["--lookback", "2h"],
            2,
            "bridge: BRIDGE_VOD_ACCESS_KEY and BRIDGE_VOD_SECRET_KEY must be set to call the "
            "video API",
        ),
        (
            {"BRIDGE_VOD_AUTH_SCHEME": "ws4"},
            ["--lookback", "2h"],
            2,
            "bridge: BRIDGE_VOD_AUTH_SCHEME='ws4' is invalid: Invalid enum value 'ws4'",
        ),
        (
            {},
            ["--since", "2026-12-01T10:00:00Z", "--every", "1h"],
            1,
            "bridge: --every needs --lookback: each run covers the last DURATION",
        ),
        (
            {},
            ["--lookback", "2h", "--until", "2026-12-01T10:00:00Z"],
            1,
            "bridge: --until goes with --since; --lookback windows end now",
        ),
        (
            {},
            ["--lookback", "soon"],
            1,
            "bridge: invalid duration 'soon': expected for example 90s, 15m, 2h or 1h30m",
        ),
    ],
)
@pytest.mark.usefixtures("root_logging")
def test_the_command_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    args: list[str],
    code: int,
    line: str,
) -> None:
    for name in [name for name in os.environ if name.startswith("BRIDGE_")]:
        monkeypatch.delenv(name)
    for name, value in {**(KEYS if code == 1 else {}), **environ}.items():
        monkeypatch.setenv(name, value)

    assert cli.main(["reconcile", *args]) == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == line
