"""The README's example, as written: send the vendor sample, then read the records back."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.samples import EXAMPLES, SAMPLE_VIDEO_IDS, VIDEO_SAMPLE, item_slices
from tests.servers import BridgeProcess, fresh_settings


@pytest.fixture
def bridge(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    settings = fresh_settings(kafka_bootstrap, allow_unauthenticated="true")
    with BridgeProcess(tmp_path / "bridge.log", **settings) as process:
        yield process


@pytest.mark.kafka
def test_send_then_consume_as_in_the_readme(bridge: BridgeProcess) -> None:
    sent = bridge.command("send", "examples/video-upload-callback.json")

    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == ('200 {"code":200,"message":"success","accepted":2,"deadLettered":0}\n')

    consumed = bridge.command("consume", "--from-beginning", "--max-records", "2")

    assert consumed.returncode == 0, consumed.stderr
    lines = [json.loads(line) for line in consumed.stdout.splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(SAMPLE_VIDEO_IDS)
    values = {line["key"]: line["value"] for line in lines}
    for video_id, raw in zip(
        SAMPLE_VIDEO_IDS, item_slices(VIDEO_SAMPLE, "videoListInfo"), strict=True
    ):
        assert values[video_id] == json.loads(raw)
    assert all(line["headers"]["ce_subject"] == line["key"] for line in lines)


@pytest.mark.kafka
@pytest.mark.parametrize("header", ["X-Gateway-Token", ""], ids=["custom-header", "in-the-path"])
def test_send_puts_the_token_where_the_bridge_reads_it(
    kafka_bootstrap: str, tmp_path: Path, header: str
) -> None:
    settings = fresh_settings(
        kafka_bootstrap, auth_tokens="cli-token-0123456789", auth_header=header
    )
    with BridgeProcess(tmp_path / "bridge.log", **settings) as bridge:
        refused = bridge.command("send", "examples/video-upload-callback.json")
        sent = bridge.command(
            "send", "examples/video-upload-callback.json", "--token", "cli-token-0123456789"
        )

    assert refused.stdout == '401 {"code":401,"message":"Missing callback credentials"}\n'
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == ('200 {"code":200,"message":"success","accepted":2,"deadLettered":0}\n')


def test_send_reports_an_unreachable_bridge(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge",
            "send",
            str(EXAMPLES / "video-upload-callback.json"),
            "--url",
            "http://127.0.0.1:9/callbacks/video-upload",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "bridge: cannot reach http://127.0.0.1:9/callbacks/video-upload: [Errno 111] "
        "Connection refused\n"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {},
            "no BRIDGE_AUTH_TOKENS set; refusing to accept unauthenticated callbacks "
            "(set BRIDGE_VENDOR_SIGNATURE=required with BRIDGE_VENDOR_KEYS, "
            "or BRIDGE_ALLOW_UNAUTHENTICATED=true for local development)",
        ),
        (
            {"BRIDGE_VENDOR_SIGNATURE": "optional"},
            "BRIDGE_VENDOR_SIGNATURE=optional needs BRIDGE_VENDOR_KEYS (AccessKey:SecretKey pairs)",
        ),
        (
            {"BRIDGE_VENDOR_SIGNATURE": "required", "BRIDGE_VENDOR_KEYS": "AK:SK"},
            "BRIDGE_VENDOR_SIGNATURE=required needs BRIDGE_PUBLIC_URL, "
            "the callback URL's base as the platform calls it",
        ),
        (
            {
                "BRIDGE_VENDOR_SIGNATURE": "required",
                "BRIDGE_VENDOR_KEYS": "AK:one-secret,AK:other-secret",
                "BRIDGE_PUBLIC_URL": "https://bridge.example.com",
            },
            "BRIDGE_VENDOR_KEYS names the AccessKey AK twice",
        ),
    ],
    ids=["no-credentials", "vendor-without-keys", "vendor-without-url", "vendor-key-twice"],
)
def test_serve_refuses_to_start_without_usable_credentials(
    environ: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        env={"PATH": "/usr/bin:/bin", **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stderr) == (2, f"bridge: {message}\n")


def test_a_bad_setting_stops_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        env={"BRIDGE_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == "bridge: BRIDGE_PORT='eighty' is invalid: Expected `int`, got `str`\n"
